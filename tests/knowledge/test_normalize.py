"""The import-time cleaner for manual/PDF text: debris out, menu paths and structure back."""

from __future__ import annotations

import dataclasses

from knowledge.normalize import build_lexicon, format_menu_path, normalize_body

# A small manual in the shape of the e-manual exports: flattened lines, lost separators.
MANUAL = [
    (
        "Setting the sleep timer",
        "Settings General System Manager Time Sleep Timer Try Now You can use this function "
        "to automatically shut off the TV after a preset period of time. - 88 -",
    ),
    (
        "Setting the clock",
        "Settings General System Manager Time Clock Try Now You can set the Clock manually "
        "or automatically.",
    ),
    (
        "Changing the language",
        "Settings General System Manager Language Try Now You can change the menu language.",
    ),
    (
        "Network status",
        "Settings General Network Network Status Try Now View the current network status.",
    ),
    (
        "Resetting the network",
        "Settings General Network Reset Network Try Now Restore the network settings. "
        "Bixby guide You can learn the voice commands that let you use Bixby. "
        "1.Turn on the TV. 2.Start the SmartThings app. 3.Tap Add Device.",
    ),
]


def _clean(index: int) -> str:
    return normalize_body(MANUAL[index][1], build_lexicon(MANUAL))


def test_ui_debris_and_page_markers_are_removed() -> None:
    text = _clean(0)
    assert "Try Now" not in text
    assert "88" not in text
    assert "automatically shut off the TV after a preset period of time." in text


def test_menu_paths_get_their_separators_back_at_the_kbs_own_branch_points() -> None:
    lexicon = build_lexicon(MANUAL)
    assert lexicon.roots == {"General"}
    text = _clean(0)
    assert text.startswith("Settings > General > System Manager > Time > Sleep Timer. You can")
    assert "Settings > General > Network > Network Status. View" in _clean(3)
    # "System Manager" never branches after "System": one item, not two.
    assert format_menu_path(["General", "System", "Manager", "Language"], lexicon) == (
        "Settings > General > System Manager > Language"
    )


# Siblings that share their first word ("Picture Mode", "Picture Size") make the paths branch
# inside an item; the prose names the items whole.
PICTURE_MANUAL = [
    (
        "Changing the picture mode",
        "Settings Picture Picture Mode Try Now You can select the Picture Mode that suits you.",
    ),
    (
        "Fitting the picture",
        "Settings Picture Picture Size Settings Fit to Screen Try Now Depends on the Picture Size "
        "setting.",
    ),
    (
        "Zooming the picture",
        "Settings Picture Picture Size Settings Zoom and Position Try Now Set Picture Size first.",
    ),
    (
        "Expert picture",
        "Settings Picture Expert Settings Brightness Try Now Adjusts it. "
        "Settings Picture Expert Settings Contrast Try Now Adjusts that.",
    ),
    (
        "HDMI control",
        "Settings General External Device Manager Anynet+ (HDMI-CEC) Try Now Controls devices.",
    ),
    (
        "Game mode",
        "Settings General External Device Manager Game Mode Settings Game Mode Try Now "
        "The Game Mode Settings may not appear on some models. Game Mode is for consoles.",
    ),
    (
        "Game motion",
        "Settings General External Device Manager Game Mode Settings Game Motion Plus Settings "
        "Try Now You can configure Game Motion Plus for smoother games.",
    ),
    (
        "Manual clock",
        "Settings General System Manager Time Clock Clock Mode Manual When Clock Mode is set to "
        "Manual, enter the time. Settings General System Manager Time Clock Clock Mode Auto "
        "The Clock Mode follows the broadcast.",
    ),
]


def test_an_item_the_prose_names_stays_whole_where_its_siblings_branch() -> None:
    lexicon = build_lexicon(PICTURE_MANUAL)
    assert ("Picture", "Mode") in lexicon.names and ("Game", "Mode", "Settings") in lexicon.names
    # Without the names (a lexicon as stored before they were learned) the branch points split
    # "Game Motion Plus" after "Game", and the parent-repeat rule alone fixes "Picture".
    bare = dataclasses.replace(lexicon, names=frozenset())
    items = ["General", "External", "Device", "Manager", "Game", "Mode", "Settings"]
    assert format_menu_path([*items, "Game", "Motion", "Plus", "Settings"], bare).endswith(
        "Game Mode Settings Game > Motion Plus Settings"
    )
    assert format_menu_path([*items, "Game", "Motion", "Plus", "Settings"], lexicon).endswith(
        "> External Device Manager > Game Mode Settings > Game Motion Plus Settings"
    )
    assert (
        format_menu_path(["Picture", "Picture", "Mode"], bare)
        == "Settings > Picture > Picture Mode"
    )
    cleaned = [normalize_body(body, lexicon) for _, body in PICTURE_MANUAL]
    assert cleaned[0].startswith("Settings > Picture > Picture Mode. You can select")
    assert cleaned[1].startswith("Settings > Picture > Picture Size Settings > Fit to Screen. ")
    assert cleaned[5].startswith(
        "Settings > General > External Device Manager > Game Mode Settings > Game Mode. The Game"
    )
    # A sentence opener ends the path: no period dropped into the middle of the sentence.
    assert "Clock Mode > Manual. When Clock Mode is set to Manual, enter the time." in cleaned[7]
    # The earlier examples keep their paths.
    assert format_menu_path(["Picture", "Expert", "Settings", "Brightness"], lexicon) == (
        "Settings > Picture > Expert Settings > Brightness"
    )
    assert build_lexicon(MANUAL).names == frozenset()
    assert type(lexicon).from_dict(lexicon.to_dict()) == lexicon


def test_punctuation_the_export_spaced_away_is_put_back() -> None:
    body = (
        "Select Remote Management , then agree . Decor : Allows you to pick screens "
        "( see Ambient Mode ) . Use a 3 . 5 mm cable."
    )
    assert normalize_body(body, build_lexicon(MANUAL)) == (
        "Select Remote Management, then agree. Decor: Allows you to pick screens "
        "(see Ambient Mode). Use a 3 . 5 mm cable."
    )
    terms = "Settings Support Terms & Policy If you want to stop, cancel the agreement."
    lexicon = build_lexicon(
        [*MANUAL, ("Support", "Settings Support About This TV Try Now x. ")] * 3
    )
    assert normalize_body(terms, lexicon).startswith("Settings > Support > Terms & Policy. If you")
    # A comma ends the path after its word; no period is dropped into the sentence.
    comma = "Settings Support Terms & Conditions, Privacy Policy after you sign in."
    assert normalize_body(comma, lexicon) == (
        "Settings > Support > Terms & Conditions, Privacy Policy after you sign in."
    )


def test_run_in_headings_and_glued_steps_become_markdown_structure() -> None:
    text = _clean(4)
    assert "#### Bixby guide\n\nYou can learn the voice commands" in text
    assert "1. Turn on the TV.\n2. Start the SmartThings app.\n3. Tap Add Device." in text


def test_handwritten_markdown_is_left_alone() -> None:
    body = (
        "# Pair the remote\n\nHold **Back** and **Play** for 3 seconds.\n\n"
        "- point it at the TV\n- keep it close\n\n| Problem | Try this |\n|---|---|\n| a | b |"
    )
    lexicon = build_lexicon([("Pair the remote", body), *MANUAL])
    assert normalize_body(body, lexicon) == body.replace("\n\n- point", "\n\n- point")


def test_sentence_mentions_of_settings_stay_prose() -> None:
    body = "Open the Settings menu and choose a language you like."
    assert normalize_body(body, build_lexicon(MANUAL)) == body
    assert normalize_body("", build_lexicon(MANUAL)) == ""


def test_pathological_bodies_are_cleaned_in_linear_time() -> None:
    import time

    body = "".join("  " * i + "- x\n" for i in range(300)) + "\n\n" + "[a](" * 8000
    body += " Settings General " * 2000 + "Try Now"
    started = time.perf_counter()
    cleaned = normalize_body(body, build_lexicon([("Hostile", body), *MANUAL]))
    # ~0.04 s when linear; the quadratic versions took 1-1.2 s on this body and grow with it.
    # 3 s leaves room for a busy shared CI box without hiding a quadratic on a larger body.
    assert time.perf_counter() - started < 3.0
    assert "Try Now" not in cleaned
