"""Safety rules and responses from the database: seeded, editable, reloaded on change."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from generation import safety, safety_store
from generation.models import SafetyResponse, SafetyRule

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_store():
    safety_store.install()
    safety_store.invalidate()
    yield
    safety_store.invalidate()  # the test's rows are rolled back: reload next time


def test_migration_seeds_every_default_rule_and_response():
    assert SafetyRule.objects.count() == len(safety.DEFAULT_RULES)
    assert set(SafetyResponse.objects.values_list("language", flat=True)) == set(
        safety.DEFAULT_RESPONSES
    )
    seeded = SafetyRule.objects.get(name="en-burning-smell")
    assert seeded.pattern == next(r for r in safety.DEFAULT_RULES if r.name == seeded.name).pattern


def test_a_new_rule_applies_at_once_and_a_disabled_one_stops():
    question = "the TV is wobbling on the wall and leaning forward"
    assert not safety.assess(question).hazard
    SafetyRule.objects.create(
        name="en-wobbly-mount", category="tip_over", pattern=r"\bwobbl\w*", confidence=0.8
    )
    verdict = safety.assess(question)
    assert verdict.hazard and verdict.rule == "en-wobbly-mount"
    rule = SafetyRule.objects.get(name="en-wobbly-mount")
    rule.enabled = False
    rule.save()  # as the admin does: the signal reloads at once
    assert not safety.assess(question).hazard


def test_an_edit_without_signal_is_seen_by_the_periodic_check(monkeypatch):
    # Another process's edit sends no signal here; only the periodic digest check sees it.
    assert safety.assess("I saw sparks behind the TV").hazard
    SafetyRule.objects.filter(name="en-sparks").update(enabled=False)
    assert safety.assess("I saw sparks behind the TV").hazard  # not yet due: cached
    monkeypatch.setattr(safety_store, "RECHECK_SECONDS", 0.0)
    assert not safety.assess("I saw sparks behind the TV").hazard


def test_edited_response_is_served_and_unknown_languages_get_english():
    SafetyResponse.objects.filter(language="en").update(text="CALL US NOW. Unplug it.")
    safety_store.invalidate()
    verdict = safety.assess("smoke is coming out of my tv")
    assert safety.handoff_answer("smoke", verdict).text == "CALL US NOW. Unplug it."
    SafetyResponse.objects.filter(language="ko").delete()
    safety_store.invalidate()
    assert safety.response_text("ko") == "CALL US NOW. Unplug it."


def test_rule_with_a_bad_pattern_is_rejected_by_validation():
    rule = SafetyRule(name="bad", category="fire_smoke", pattern="(unclosed", confidence=0.9)
    with pytest.raises(ValidationError) as exc:
        rule.full_clean()
    assert "pattern" in exc.value.message_dict


def test_empty_table_falls_back_to_the_defaults():
    SafetyRule.objects.all().delete()
    assert safety.assess("my son swallowed a battery").hazard
    assert safety.ruleset_version() == "defaults"


def test_the_answer_cache_key_changes_when_the_rules_do(settings):
    from generation import answer_cache

    settings.ANSWER_CACHE_SECONDS = 300
    services_version = answer_cache.safety.ruleset_version
    before = services_version()
    SafetyRule.objects.create(name="x-new", category="fire_smoke", pattern=r"\bxyzzy\b")
    assert services_version() != before


def test_admin_lists_and_edits_rules(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/admin/generation/safetyrule/").status_code == 200
    rule = SafetyRule.objects.get(name="en-smoke")
    page = client.get(f"/admin/generation/safetyrule/{rule.pk}/change/")
    assert page.status_code == 200 and "en-smoke" in page.content.decode()
    assert client.get("/admin/generation/safetyresponse/").status_code == 200
