"""Article Markdown renders to HTML that cannot run script, whatever the author typed."""

from __future__ import annotations

import pytest

from knowledge.diffing import diff_lines
from knowledge.rendering import render_markdown

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<img src="x" onerror="alert(1)">',
    "<svg onload=alert(1)>",
    '<body onload="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href="&#106;avascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "![x](javascript:alert(1))",
    '<iframe src="https://evil.example"></iframe>',
    '<object data="evil.swf"></object><embed src="evil.swf">',
    '<p style="background:url(javascript:alert(1))">styled</p>',
    "<style>body{display:none}</style>",
    '<div onclick="alert(1)">click</div>',
    '<form action="https://evil.example"><input name=x></form>',
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<math><mtext><a xlink:href="javascript:alert(1)">x</a></mtext></math>',
    '<details open ontoggle="alert(1)">',
    "<<script>script>alert(1)<</script>/script>",
]
FORBIDDEN = (
    "<script", "javascript:", "onerror", "onload", "onclick", "ontoggle", "<iframe",
    "<object", "<embed", "style=", "<style", "data:", "<form", "<meta", "<svg",
)  # fmt: skip


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payload_never_survives(payload):
    html = render_markdown(f"Intro\n\n{payload}\n\nOutro").lower()
    for bad in FORBIDDEN:
        assert bad not in html, f"{bad!r} survived in {html!r}"


def test_markdown_features_render():
    html = render_markdown(
        "# Pairing\n\nPress **Home**.\n\n| Button | Effect |\n|---|---|\n| Back | Exit |\n\n"
        "```bash\nreset --all\n```\n\n- one\n- two\n\n[Docs](https://example.com/docs)"
    )
    assert '<h1 id="pairing">Pairing</h1>' in html
    assert "<strong>Home</strong>" in html
    assert "<table>" in html and "<td>Back</td>" in html
    assert '<code class="language-bash">reset --all' in html
    assert "<li>one</li>" in html
    assert 'href="https://example.com/docs"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_safe_links_and_images_are_kept():
    html = render_markdown("![Remote](/static/remote.png) [mail](mailto:help@example.com)")
    assert 'src="/static/remote.png"' in html
    assert 'href="mailto:help@example.com"' in html


def test_diff_escapes_html_and_marks_words():
    rows = diff_lines("Press <b>Home</b>\nkeep", "Press <script>alert(1)</script>\nkeep")
    html = "".join(r.html for r in rows)
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html.replace("<ins>", "").replace("</ins>", "")
    assert "<ins>" in html and "<del>" in html
    assert [r.kind for r in rows] == ["del", "add", "same"]


def test_hard_wrapped_paragraphs_reflow():
    html = render_markdown(
        "The remote pairs over Bluetooth. If the\nremote stops responding, pair it."
    )
    assert "<br" not in html
    assert html.count("<p>") == 1


def test_side_by_side_diff_pairs_changed_lines_and_escapes():
    from knowledge.diffing import diff_split

    rows = diff_split("same\nold <b>\ngone", "same\nnew <b>")
    assert [(r.kind, r.old_no, r.new_no) for r in rows] == [
        ("same", 1, 1),
        ("change", 2, 2),
        ("change", 3, None),
    ]
    assert rows[1].old_html == "<del>old</del> &lt;b&gt;"
    assert rows[1].new_html == "<ins>new</ins> &lt;b&gt;"
    assert rows[2].old_html == "<del>gone</del>" and rows[2].new_html == ""


def test_unrelated_lines_are_marked_whole():
    rows = diff_lines("After pressing the button you can surf", "## Steps")
    assert rows[0].html == "<del>After pressing the button you can surf</del>"
    assert rows[1].html == "<ins>## Steps</ins>"
