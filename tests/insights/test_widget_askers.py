"""Issue 14 (Low): one anonymous widget client must not count as many "distinct customers".

The widget frame has no cookies, so each question used to be its own asker; now the client's
keyed address stands in for a session."""

from __future__ import annotations

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from django.utils import timezone

from insights.models import Suggestion
from insights.services import mine_logs
from support.models import Interaction

pytestmark = pytest.mark.django_db

SOUNDBAR = [
    "My soundbar has no sound over HDMI ARC",
    "soundbar HDMI ARC no sound",
    "No sound from soundbar connected with HDMI ARC",
    "Soundbar connected by HDMI ARC plays no sound",
]


def _ask(question: str, *, address: str) -> None:
    response = Client(REMOTE_ADDR=address).post("/widget/ask/stream/", {"q": question})
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    b"".join(response.streaming_content)  # the interaction is recorded as the stream ends


def test_one_widget_client_counts_as_one_customer():
    for question in SOUNDBAR:
        _ask(question, address="203.0.113.7")
    assert Interaction.objects.filter(channel="widget").count() == len(SOUNDBAR)
    assert len(set(Interaction.objects.values_list("session_key", flat=True))) == 1
    mine_logs(now=timezone.now())
    # One customer is below INSIGHTS_MIN_CLUSTER_SIZE (2): no "customers asked" suggestion.
    assert not Suggestion.objects.filter(kind="new_article").exists()


def test_two_widget_clients_are_two_customers():
    # Control: the same questions from two clients do make a suggestion, so the probe above
    # would see an inflated count.
    for n, question in enumerate(SOUNDBAR):
        _ask(question, address=f"203.0.113.{n % 2 + 1}")
    mine_logs(now=timezone.now())
    suggestion = Suggestion.objects.get(kind="new_article")
    assert suggestion.cluster_size == 2
    assert suggestion.evidence["stats"]["askers"] == 2


def test_the_client_key_reveals_no_address_and_is_no_session_key():
    _ask(SOUNDBAR[0], address="198.51.100.23")
    key = Interaction.objects.get().session_key
    assert key.startswith("w:") and "198.51.100.23" not in key
