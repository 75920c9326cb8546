"""bm25s stays quiet: its import-time DEBUG level does not survive."""

from __future__ import annotations

import logging


def test_building_a_lexical_index_logs_no_bm25s_debug_lines(caplog):
    from retrieval.lexical import LexicalIndex

    caplog.set_level(logging.DEBUG)
    LexicalIndex.build(["reset the router", "pair the soundbar"], [1, 2], [True, True])
    assert not [r for r in caplog.records if r.name.startswith("bm25s") and r.levelno < 30]
