"""The whole support loop in headless Chromium, mail through a real local SMTP server.

Customer asks, follows up, escalates; agent replies; the customer receives the mail with the
thread link, opens it, replies; the agent resolves; the customer rates.
"""

from __future__ import annotations

import re
import time

import pytest

from support.models import Conversation
from tests.support.conftest import mail_text
from tests.support.test_browser import _login, browser  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _wait_for_mail(smtp_server, count: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(smtp_server.messages) < count:
        time.sleep(0.2)
    assert len(smtp_server.messages) >= count, "the mail never arrived"


def test_the_support_loop_closes_in_a_real_browser(
    live_server,
    browser,  # noqa: F811
    kb,
    agent,
    smtp_server,
):
    from playwright.sync_api import expect

    base = live_server.url
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(base + "/")
    page.fill("#ask-q", "How do I reset my password?")
    page.click(".ask-form button[type=submit]")
    expect(page.locator("#answer-area article.answer").first).to_contain_text("24 hours")
    expect(page.locator("#answer-area .after-answer")).to_have_count(1, timeout=15_000)
    page.fill("#ask-q", "and if the email does not arrive?")
    page.click(".ask-form button[type=submit]")
    expect(page.locator("#answer-area .after-answer")).to_have_count(2, timeout=15_000)
    expect(page.locator("#answer-area article.answer").nth(1)).to_contain_text("spam")
    page.locator("#answer-area button.talk").last.click()
    page.locator(".escalate-form input[name=name]").fill("Carla")
    page.locator(".escalate-form input[name=email]").fill("carla@example.com")
    page.locator(".escalate-form button[type=submit]").click()
    expect(page.locator(".escalate-offer .thanks")).to_contain_text("is with our support team")
    conversation = Conversation.objects.get(status="waiting_agent")
    assert conversation.messages.filter(role="bot").count() == 2  # one thread, both answers

    staff = browser.new_context().new_page()
    from tests.support.test_browser import PASSWORD

    agent.set_password(PASSWORD)
    agent.save()
    _login(staff, base, agent.username)
    assert staff.url.endswith("/agent/")  # the agent lands on the queue
    staff.click(f"a[href='/agent/conversations/{conversation.pk}/']")
    expect(staff.locator(".handoff-summary")).to_contain_text("Question: How do I reset")
    staff.fill("#reply-body", "Here is a fresh reset link for you.")
    staff.click("#reply-form button.primary")
    _wait_for_mail(smtp_server, 2)  # "we received your request" + the reply
    reply = smtp_server.messages[-1]
    assert reply["X-Envelope-To"] == "carla@example.com"
    link = re.search(r"http://testserver(/t/[^/\s]+/)", mail_text(reply)).group(1)

    page.goto(base + link)
    expect(page.locator(".customer-thread")).to_contain_text("Here is a fresh reset link")
    page.fill("#thread-body", "It worked, thanks!")
    page.click("#thread-reply button[type=submit]")
    expect(page.locator(".customer-thread")).to_contain_text("It worked, thanks!")

    staff.reload()
    staff.fill("#reply-body", "Great, closing this.")
    staff.click("#reply-form button[name=resolve]")
    _wait_for_mail(smtp_server, 3)
    assert "rate/?score=5" in mail_text(smtp_server.messages[-1])
    page.goto(base + link + "rate/?score=5")
    page.click("#csat-form button[type=submit]")
    expect(page.locator("p.thanks")).to_contain_text("Thank you for your rating")
    conversation.refresh_from_db()
    assert conversation.status == "resolved" and conversation.csat_score == 5
    assert conversation.csat_agent == agent
