"""Portal and widget in the customer's language (issue 15): Accept-Language, switcher, catalogs."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from generation.languages import ABSTAIN_TEXTS
from tests.factories import make_article

pytestmark = pytest.mark.django_db

LOCALE_DIR = Path(django_settings.BASE_DIR) / "locale"


@pytest.mark.parametrize(
    ("accept", "lang", "heading"),
    [
        ("es-ES,es;q=0.9", "es", "¿En qué podemos ayudarle?"),
        ("de-DE,de;q=0.9,en;q=0.5", "de", "Wie können wir helfen?"),
        ("fr-FR", "fr", "Comment pouvons-nous vous aider ?"),
        ("zh-CN,zh;q=0.9", "zh", "有什么可以帮您？"),
    ],
)
def test_portal_follows_accept_language(client, accept, lang, heading):
    response = client.get(reverse("support:home"), HTTP_ACCEPT_LANGUAGE=accept)
    assert response.status_code == 200
    body = response.content.decode()
    assert f'<html lang="{lang}">' in body
    assert heading in body
    assert "How can we help?" not in body  # control: the English heading is gone


def test_portal_defaults_to_the_site_language(client):
    body = client.get(reverse("support:home")).content.decode()
    assert "How can we help?" in body and '<html lang="en' in body


@pytest.mark.parametrize("accept", ["xx-YY", "*", "", "de;q=abc", "ja-JP,ko;q=0.8", "é" * 500])
def test_unknown_or_malformed_accept_language_falls_back(client, accept):
    response = client.get(reverse("support:home"), HTTP_ACCEPT_LANGUAGE=accept)
    assert response.status_code == 200
    assert "How can we help?" in response.content.decode()


def test_widget_frame_is_translated(client):
    body = client.get(reverse("support:widget_frame"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Hilfe-Center öffnen" in body and "Open the help center" not in body


def test_language_switcher_sets_the_language(client):
    home = client.get(reverse("support:home")).content.decode()
    assert 'name="language"' in home and 'value="fr"' in home
    response = client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    assert response.status_code == 302
    body = client.get(reverse("support:home"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Comment pouvons-nous vous aider ?" in body  # the choice beats Accept-Language


def test_switcher_refuses_an_unknown_language_without_error(client):
    response = client.post(reverse("set_language"), {"language": "klingon", "next": "/"})
    assert response.status_code == 302
    assert "How can we help?" in client.get(reverse("support:home")).content.decode()


@pytest.mark.parametrize("lang", ["es", "de", "fr", "zh"])
def test_catalog_is_complete_and_compiled(lang):
    po = (LOCALE_DIR / lang / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    ids = re.findall(r'^msgid "(.+)"$', po, re.M)
    assert len(ids) > 40
    assert not re.search(r'^msgstr ""\n\n', po + "\n", re.M), "untranslated entries"
    assert "fuzzy" not in po  # msgfmt leaves fuzzy entries out of the .mo
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "django.mo").open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)
    for msgid in ids:
        msgid = msgid.replace('\\"', '"')
        if "%(" in msgid:
            continue  # plural / formatted: checked through the templates above
        assert catalog.gettext(msgid) != msgid or msgid in SAME_WORD.get(lang, set()), msgid


# Words these languages write as English does (a translation equal to its msgid is a miss).
SAME_WORD = {
    lang: {"Portal", "No", "Sources"}
    | (
        {"Articles", "Conversations", "Messages", "Action", "Actions", "Date", "Urgent"}
        if lang == "fr"
        else set()
    )
    for lang in ("es", "de", "fr", "zh")
}


# -- questions in any language through the portal and the API: never a 500 ------------------

ODD_QUESTIONS = [
    "¿Cómo restablezco mi contraseña?",
    "Wie setze ich mein Passwort zurück?",
    "如何重置我的密码？",
    "😀😀😀",
    "reset パスワード пароль contraseña 密码",  # mixed scripts
    "Kak sbrosit parol",  # transliterated Russian
    "Passwort " * 150,  # long, one language
    "mot de passe\x00oublié",
    "\u202e\u200b\ufeff?",
]


@pytest.mark.parametrize("question", ODD_QUESTIONS)
def test_portal_answers_or_abstains_in_any_language(client, kb, question):
    response = client.post(reverse("support:ask"), {"q": question})
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 400:  # NUL and invisible-only input: a clear refusal
        assert response.content


@pytest.mark.parametrize("question", ODD_QUESTIONS)
def test_api_answer_carries_the_question_language(client, kb, question):
    response = client.post("/api/ask", {"question": question}, content_type="application/json")
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 200:
        body = response.json()
        assert body["language"] in {"en", "es", "de", "fr", "zh"}
        if body["abstained"] and body["language"] != "en":
            assert body["text"] != ABSTAIN_TEXTS["en"]  # the abstention is in its language


def test_streamed_answer_labels_come_translated_from_the_page(client):
    """ask.js builds the streamed answer's labels from #ask-i18n, rendered in the language."""
    home = client.get(reverse("support:home"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert 'data-writing="Rédaction de la réponse…"' in home
    assert 'data-helpful="Cette réponse vous a-t-elle aidé ?"' in home
    frame = client.get(reverse("support:widget_frame"), HTTP_ACCEPT_LANGUAGE="zh").content.decode()
    assert 'data-talk="联系人工客服"' in frame
    script = (Path(django_settings.BASE_DIR) / "static" / "js" / "ask.js").read_text()
    for key in ("writing", "helpful", "talk", "requestSent", "sources"):
        assert f't("{key}", ' in script
    # Control: English pages carry the English labels.
    english = client.get(reverse("support:home")).content.decode()
    assert 'data-writing="Writing an answer…"' in english


# -- the editor and the agent pages in the staff member's language ----------------------------


def test_editor_chrome_follows_accept_language(client, editor, reviewer):
    article = make_article(author=reviewer, title="Reset your password")
    client.force_login(editor)
    pages = [
        (reverse("knowledge:article_list"), ["Neuer Artikel", "Prüfprotokoll", "Sichtbarkeit"]),
        (reverse("knowledge:article_detail", args=[article.pk]), ["Bearbeiten", "Übersetzungen"]),
        (reverse("knowledge:article_edit", args=[article.pk]), ["Entwurf speichern", "Vorschau"]),
        (reverse("knowledge:article_history", args=[article.pk]), ["Unterschiede zeigen"]),
        (reverse("knowledge:audit_log"), ["Prüfprotokoll", "Wann"]),
        (reverse("knowledge:import"), ["Artikel importieren"]),
    ]
    for url, german in pages:
        body = client.get(url, HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9").content.decode()
        assert '<html lang="de">' in body, url
        for text in german:
            assert text in body, (url, text)
        assert ">New article<" not in body and ">Audit log<" not in body, url
    # Control: the same pages in English without the header.
    english = client.get(reverse("knowledge:article_list")).content.decode()
    assert "New article" in english and "Neuer Artikel" not in english


def test_agent_chrome_follows_accept_language(client, agent, kb):
    from support import services

    conversation = services.conversation_create(
        subject="Passwort", body="Wie setze ich mein Passwort zurück?", name="Kai", email=""
    )
    client.force_login(agent)
    queue = client.get("/agent/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Unterhaltungen" in queue and "Priorität" in queue and "Betreff" in queue
    assert "<h1>Conversations</h1>" not in queue
    page = client.get(
        f"/agent/conversations/{conversation.pk}/", HTTP_ACCEPT_LANGUAGE="de"
    ).content.decode()
    for text in ("Ihre Antwort", "Antwort senden", "Interne Notiz", "Verwandte Artikel"):
        assert text in page, text
    assert "Send reply" not in page
    english = client.get(f"/agent/conversations/{conversation.pk}/").content.decode()
    assert "Send reply" in english and "Antwort senden" not in english
