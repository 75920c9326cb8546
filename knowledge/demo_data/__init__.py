"""Demo data: a bundled sample help center and categories for imported manuals (no ORM)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

SAMPLE_KB_DIR = Path(__file__).resolve().parent / "sample_kb"

# Chapter titles of a product manual (as in the Samsung TV e-Manual) and the help-center
# category each chapter's sections go to.
CHAPTERS = {
    "quick guides": "Getting started",
    "connections": "Connections & devices",
    "remote control and peripherals": "Remote & accessories",
    "smart features": "Network & apps",
    "tv viewing": "Watching TV",
    "picture and sound": "Picture & sound",
    "system and support": "Settings & maintenance",
    "troubleshooting": "Troubleshooting",
    "precautions and notes": "Specifications & notes",
    "accessibility guidance": "Accessibility",
}
# Checked first: an accessibility or troubleshooting section, wherever it sits.
PRIORITY_KEYWORDS = [
    ("Accessibility", r"accessib|voice guide|visually impaired|high contrast|caption|hearing|"
                      r"video description|black and white|invert"),
    ("Troubleshooting", r"troubleshoot|problem|won't|isn't working|can't|trouble|diagnos|"
                         r"getting support|remote management|requesting service|contact info"),
]  # fmt: skip
# Then the subject of the section; the chapter only when no keyword matches.
KEYWORDS = [
    ("Remote & accessories", r"remote|keyboard|mouse|controller|accessor|bixby|microphone"),
    ("Picture & sound", r"picture|sound|audio|speaker|hdr|brightness|colou?r|game mode|"
                        r"ambient|uhd"),
    ("Network & apps", r"network|internet|wi-?fi|smart ?hub|apps?\b|smartthings|mirror|"
                       r"account|browser|e-manual"),
    ("Connections & devices", r"hdmi|usb|connect|device|input|computer|mobile|bluetooth|"
                              r"antenna|anynet"),
    ("Watching TV", r"channel|broadcast|record|timeshift|guide|favou?rite|schedul|rating"),
    ("Settings & maintenance", r"update|software|timer|time|energy|power|reset|factory|"
                               r"burn|support|service|hacking|malicious"),
]  # fmt: skip


def category_for_title(title: str, chapter: str | None = None) -> str:
    """The help-center category for a manual section, from its title and chapter."""
    lowered = title.lower()
    # A section's own subject (Bixby, Smart Hub) says more than the chapter it sits in (the
    # manual repeats them under "Accessibility Guidance"); the chapter covers the rest.
    for name, pattern in (*PRIORITY_KEYWORDS, *KEYWORDS):
        if re.search(pattern, lowered):
            return name
    return chapter or "General"


def assign_categories(records: Iterable) -> None:
    """Fill in missing categories, following the manual's chapter structure in file order."""
    chapter: str | None = None
    for record in records:
        key = " ".join(record.title.lower().split())
        if key in CHAPTERS:
            chapter = CHAPTERS[key]
        if not record.category:
            is_heading = key in CHAPTERS
            record.category = chapter if is_heading else category_for_title(record.title, chapter)
