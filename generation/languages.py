"""The texts we write ourselves, in every language customers may ask in (issue 15).

Answers quote articles (or an LLM writes from them); the abstention, the label on an answer
quoted from an article in another language and the prompt's language instruction are ours,
so they exist for each of settings.SEARCH_LANGUAGES. Safety responses live with the safety
rules (`generation.safety_defaults.DEFAULT_RESPONSES`). Plain module: no ORM.
"""

from __future__ import annotations

ABSTAIN_TEXTS: dict[str, str] = {
    "en": (
        "I couldn't find this in our help center. "
        "Would you like me to connect you with a person from our support team?"
    ),
    "es": (
        "No he encontrado esto en nuestro centro de ayuda. "
        "¿Quiere que le ponga en contacto con una persona de nuestro equipo de soporte?"
    ),
    "de": (
        "Dazu habe ich in unserem Hilfe-Center nichts gefunden. "
        "Möchten Sie mit einer Person aus unserem Support-Team verbunden werden?"
    ),
    "fr": (
        "Je n'ai pas trouvé cette information dans notre centre d'aide. "
        "Voulez-vous que je vous mette en relation avec une personne de notre équipe "
        "d'assistance ?"
    ),
    "zh": "我在帮助中心没有找到相关内容。需要我为您转接我们的客服人员吗？",
}

# Language names as written in each language: NAMES[question_language][source_language].
NAMES: dict[str, dict[str, str]] = {
    "en": {"en": "English", "es": "Spanish", "de": "German", "fr": "French", "zh": "Chinese"},
    "es": {"en": "inglés", "es": "español", "de": "alemán", "fr": "francés", "zh": "chino"},
    "de": {
        "en": "Englisch",
        "es": "Spanisch",
        "de": "Deutsch",
        "fr": "Französisch",
        "zh": "Chinesisch",
    },
    "fr": {"en": "anglais", "es": "espagnol", "de": "allemand", "fr": "français", "zh": "chinois"},
    "zh": {"en": "英文", "es": "西班牙文", "de": "德文", "fr": "法文", "zh": "中文"},
}

# Put before an answer quoted from an article in another language than the question's.
_SOURCE_LABELS: dict[str, str] = {
    "en": "We have this article only in {name}; here is what it says:",
    "es": "Este artículo solo está disponible en {name}; esto es lo que dice:",
    "de": "Diesen Artikel gibt es nur auf {name}; dort steht:",
    "fr": "Cet article n'existe qu'en {name} ; voici ce qu'il dit :",
    "zh": "这篇文章目前只有{name}版本，内容如下：",
}

# English names for the LLM instruction (small models follow English instructions best).
_ENGLISH_NAMES = NAMES["en"]


def abstain_text(language: str) -> str:
    """The abstention in the question's language (English when we have none)."""
    return ABSTAIN_TEXTS.get(language) or ABSTAIN_TEXTS["en"]


def source_language_label(question_language: str, source_language: str) -> str:
    """'We have this article only in English; ...' in the question's language."""
    lang = question_language if question_language in _SOURCE_LABELS else "en"
    name = NAMES[lang].get(source_language, source_language)
    return _SOURCE_LABELS[lang].format(name=name)


def answer_language_instruction(language: str) -> str:
    """The prompt's line asking for the answer in the question's language ("" for English)."""
    if not language or language == "en" or language not in _ENGLISH_NAMES:
        return ""
    return (
        f"Write the answer in {_ENGLISH_NAMES[language]}, the customer's language, "
        "even where the sources are in another language."
    )
