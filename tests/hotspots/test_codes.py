"""hotspots.codes tallies texts per group as a Counter would, without a string per row."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from hotspots.codes import tallies


def _reference(group, texts, k, top, skip):
    out = []
    for g in range(k):
        seen = Counter(
            t for gi, t in zip(group, texts)
            if gi == g and t is not None and t.strip().lower() not in skip
        )  # fmt: skip
        ranked = sorted(seen.items(), key=lambda item: (-item[1], item[0]))
        out.append(ranked if top is None else ranked[:top])
    return out


@pytest.mark.parametrize("kind", ["text", "category"])
@pytest.mark.parametrize("top", [None, 1, 3])
def test_tallies_count_like_a_counter_with_ties_by_text(kind, top) -> None:
    rng = np.random.default_rng(8)
    words = ["On or near Ash Road", "On or near", "  on or NEAR ", "Élan Way", "b", "B", "a"]
    texts = [None if i % 17 == 0 else words[j] for i, j in enumerate(rng.integers(0, 7, 4000))]
    values = pd.Series(texts, dtype="category" if kind == "category" else "str")
    rows = np.flatnonzero(rng.random(len(texts)) < 0.6)  # a selection, as the finders pass
    group = rng.integers(0, 40, rows.size)
    for skip in [(), ("on or near", "")]:
        got = tallies(group, values, rows, 40, top=top, skip=skip)
        picked = [texts[r] for r in rows]
        assert got == _reference(group.tolist(), picked, 40, top, skip)
    mask = np.zeros(len(texts), bool)
    mask[rows] = True  # a boolean mask selects the same rows
    assert tallies(group, values, mask, 40, top=top) == tallies(group, values, rows, 40, top=top)


def test_tallies_of_no_rows_are_empty() -> None:
    values = pd.Series(["a", "b"], dtype="str")
    assert tallies(np.empty(0, np.int64), values, np.empty(0, np.int64), 2) == [[], []]
