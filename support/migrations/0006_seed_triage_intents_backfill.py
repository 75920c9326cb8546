"""Seed the default intent taxonomy; carry existing rows over to the new triage fields.

Safety answers logged before Interaction.handoff_reason existed are recognisable by their
backend ("safety", generation.safety.handoff_answer); urgent conversations become URGENT.
"""

from django.db import migrations

# A copy of support.triage.DEFAULT_INTENTS at the time of writing (migrations never import
# code that may change later).
DEFAULT_INTENTS = {
    "safety": ("Safety hazard", 0),
    "complaint": ("Complaint", 1),
    "human_request": ("Asks for a person", 1),
    "troubleshooting": ("Troubleshooting", 2),
    "returns_refunds": ("Returns and refunds", 2),
    "order_delivery": ("Order and delivery", 2),
    "account_billing": ("Account and billing", 2),
    "how_to": ("How-to", 3),
    "greeting": ("Greeting or thanks", 3),
}


def forward(apps, schema_editor):
    TriageIntent = apps.get_model("support", "TriageIntent")
    Interaction = apps.get_model("support", "Interaction")
    Conversation = apps.get_model("support", "Conversation")
    for name, (label, priority) in DEFAULT_INTENTS.items():
        TriageIntent.objects.get_or_create(name=name, defaults={"label": label, "priority": priority})
    Interaction.objects.filter(backend="safety", handoff_reason="").update(handoff_reason="safety")
    Conversation.objects.filter(urgent=True).update(priority=0)


class Migration(migrations.Migration):
    dependencies = [("support", "0005_triage_priority_sla")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
