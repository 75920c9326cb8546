"""Markdown-aware chunking: heading paths, atomic lists/tables/code, size and overlap."""

from __future__ import annotations

import itertools

import pytest

from retrieval.chunking import (
    chunk_embedding_text,
    chunk_markdown,
    content_hash,
    estimate_tokens,
)

ARTICLE = """Intro before any heading.

# Setup

Plug the device in.

## Network

1. Open **Settings**
2. Choose *Network* and then the Wi-Fi name
   - if it is hidden, type it
3. Press OK

| Light | Meaning |
|-------|---------|
| red   | offline |
| green | online  |

```
ping 192.168.0.1
```

# Troubleshooting

Restart the router.
"""


def test_heading_path_is_kept_with_each_chunk():
    chunks = chunk_markdown(ARTICLE, target_tokens=256, overlap_tokens=0)
    paths = [c.heading_path for c in chunks]
    assert paths == ["", "Setup", "Setup > Network", "Troubleshooting"]
    network = chunks[2].text
    assert "Open Settings" not in network  # the body keeps its Markdown
    assert "1. Open **Settings**" in network
    assert [c.position for c in chunks] == [0, 1, 2, 3]


def test_setext_headings_and_heading_markup_are_understood():
    chunks = chunk_markdown("Guide\n=====\n\nText.\n\n## The *fast* way\n\nMore.", target_tokens=64)
    assert [c.heading_path for c in chunks] == ["Guide", "Guide > The fast way"]


def _items(n: int) -> str:
    return "\n".join(f"- item number {i} with several words in it to take room" for i in range(n))


def test_list_items_are_never_split_between_chunks():
    chunks = chunk_markdown("## Steps\n\n" + _items(40), target_tokens=60, overlap_tokens=0)
    assert len(chunks) > 3
    for chunk in chunks:
        for line in chunk.text.splitlines():
            assert line.startswith("- item number ") and line.endswith("to take room"), line
    # Every item appears, in order, exactly once when there is no overlap.
    joined = "\n".join(c.text for c in chunks).splitlines()
    assert joined == _items(40).splitlines()


def test_nested_list_item_stays_with_its_parent():
    body = "- parent one\n  - child of one\n- parent two\n" + _items(30)
    chunks = chunk_markdown(body, target_tokens=40, overlap_tokens=0)
    first = chunks[0].text.splitlines()
    assert first[:2] == ["- parent one", "  - child of one"]


def test_table_rows_are_never_cut():
    rows = "\n".join(f"| row {i} | value {i} with words |" for i in range(60))
    chunks = chunk_markdown("| a | b |\n|---|---|\n" + rows, target_tokens=50, overlap_tokens=0)
    assert len(chunks) > 2
    for chunk in chunks:
        for line in chunk.text.splitlines():
            assert line.startswith("|") and line.endswith("|")


def test_small_code_block_stays_whole_and_big_one_splits_between_lines():
    chunks = chunk_markdown(ARTICLE, target_tokens=256)
    assert "```\nping 192.168.0.1\n```" in chunks[2].text
    code = "```\n" + "\n".join(f"echo line {i} of the script" for i in range(80)) + "\n```"
    parts = chunk_markdown(code, target_tokens=60, overlap_tokens=0)
    assert len(parts) > 2
    for part in parts:
        assert part.text.startswith("```") and part.text.endswith("```")
        for line in part.text.splitlines()[1:-1]:
            assert line.startswith("echo line ") and line.endswith("of the script")


def test_chunks_respect_target_and_overlap_neighbours():
    text = " ".join(f"Sentence {i} talks about topic {i}." for i in range(300))
    chunks = chunk_markdown(text, target_tokens=80, overlap_tokens=20)
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.tokens <= 80
        assert estimate_tokens(chunk.text) == chunk.tokens
    for prev, nxt in itertools.pairwise(chunks):
        last_sentence = prev.text.rsplit(". ", 1)[-1].rstrip(".")
        assert last_sentence in nxt.text  # the next chunk starts with the previous tail


def test_zero_overlap_means_disjoint_chunks():
    text = " ".join(f"Sentence {i} is here." for i in range(200))
    chunks = chunk_markdown(text, target_tokens=60, overlap_tokens=0)
    words = " ".join(c.text for c in chunks).split()
    assert words == text.split()


def test_empty_and_whitespace_bodies_give_no_chunks():
    assert chunk_markdown("") == []
    assert chunk_markdown("   \n\n  ") == []


def test_too_small_target_is_refused():
    with pytest.raises(ValueError, match="target_tokens"):
        chunk_markdown("x", target_tokens=2)


def test_title_and_headings_are_part_of_the_embedded_text_and_hash():
    text = chunk_embedding_text(title="Reset password", heading_path="Steps", text="Press reset.")
    assert text.splitlines() == ["Reset password", "Steps", "Press reset."]
    same = chunk_embedding_text(title="Reset password", heading_path="Steps", text="Press reset.")
    other = chunk_embedding_text(title="Other title", heading_path="Steps", text="Press reset.")
    assert content_hash(text) == content_hash(same) != content_hash(other)
