"""Seed the built-in safety rules and responses (generation.safety.DEFAULT_RULES / _RESPONSES).

Rows that already exist (by name / language) are left as the admins edited them.
"""

from django.db import migrations


def seed(apps, schema_editor):
    from generation.safety_store import seed_defaults

    seed_defaults(apps)


class Migration(migrations.Migration):
    dependencies = [("generation", "0001_safety_rules")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
