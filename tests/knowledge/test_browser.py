"""The editor in headless Chromium: live preview through htmx, and the edit-conflict flow."""

from __future__ import annotations

import pytest

from knowledge import services
from tests.factories import make_article

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pass-for-tests-1"


@pytest.fixture
def page(live_server, chromium):
    return chromium.new_page(viewport={"width": 1280, "height": 900})


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/?next=/editor/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url("**/editor/")


def test_live_preview_and_conflict_in_browser(live_server, page, editor, reviewer):
    from playwright.sync_api import expect

    article = make_article(author=reviewer, title="Pair the remote", body="Hold **Back**.")
    _login(page, live_server.url, editor.username)
    page.goto(f"{live_server.url}/editor/articles/{article.pk}/edit/")
    expect(page.locator("#preview strong")).to_have_text("Back")  # preview on load

    page.fill("#id_body", "## Steps\n\nPress **Home** twice.\n\n<img src=x onerror=alert(1)>")
    expect(page.locator("#preview h2")).to_have_text("Steps")
    assert "onerror" not in page.inner_html("#preview")
    expect(page.locator("#body-count")).to_contain_text("characters")

    # Someone else saves while this editor is typing.
    services.revision_save(
        article=article,
        title=article.title,
        body="Hold **Back** and **Play**.",
        author=reviewer,
        base_revision_id=article.latest_revision_id,
    )
    page.click("button[name=save]")
    expect(page.locator(".conflict")).to_contain_text("while you were editing")
    assert "Press **Home** twice." in page.input_value("#id_body")
    expect(page.locator(".conflict table.diff ins").first).to_be_visible()

    page.click("button[name=save]")  # saving again, deliberately, goes through
    expect(page.locator(".messages")).to_contain_text("Saved as revision 3")
    article.refresh_from_db()
    assert article.latest_revision.body.startswith("## Steps")
