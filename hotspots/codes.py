"""Text columns tallied per group without a Python string per incident.

A column read from the store holds Arrow strings (or, for texts of few values, a
categorical). Turning it into a NumPy object array makes a Python string per row
(≈ 0.6 s per 1M rows, most of it the garbage collector's), and so does selecting rows
of it through pandas (1.3 s for 2.9M of 5M rows). :func:`tallies` selects and
dictionary-encodes the column in Arrow, counts ``(group, code)`` pairs as integers and
makes Python strings only for the few texts that can be among each group's top.

Examples
--------
>>> import pandas as pd, numpy as np
>>> values = pd.Series(["b", "a", None, "c", "a", "b"])
>>> tallies(np.array([0, 0, 0, 1, 1]), values, np.array([0, 1, 2, 4, 5]), 2)
[[('a', 1), ('b', 1)], [('a', 1), ('b', 1)]]
>>> tallies(np.array([0, 0, 1]), values, np.array([0, 5, 3]), 2, top=1)
[[('b', 2)], [('c', 1)]]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .uniq import counts_of, unique_inverse


def encoded(values: pd.Series, rows: np.ndarray | None = None) -> tuple[np.ndarray, pa.Array]:
    """``(codes, names)`` of ``values[rows]`` (all rows when ``None``; positions or a
    boolean mask): ``names`` holds each distinct text once, in no particular order, and
    ``codes`` (int64) index it, -1 for a missing value. Done in Arrow: no Python string."""
    if isinstance(values.dtype, pd.CategoricalDtype):  # the store's texts of few values
        codes = values.cat.codes.to_numpy().astype(np.int64)
        names = pa.array(values.cat.categories.astype("str"), pa.large_string())
        return (codes if rows is None else codes[rows]), names
    arr = pa.array(values.array) if values.size else pa.array([], pa.large_string())
    if rows is not None:
        rows = np.asarray(rows)
        arr = arr.filter(pa.array(rows)) if rows.dtype == bool else arr.take(pa.array(rows))
    if isinstance(arr, pa.ChunkedArray):  # one dictionary for all the rows
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    coded = pc.dictionary_encode(arr)
    codes = coded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, coded.dictionary


def tallies(
    group: np.ndarray,
    values: pd.Series,
    rows: np.ndarray | None,
    k: int,
    top: int | None = None,
    skip: tuple[str, ...] = (),
) -> list[list[tuple[str, int]]]:
    """Per group ``0..k-1``: ``(text, count)`` of ``values[rows]``, most frequent first,
    ties by text; the first ``top`` of each (all when ``None``).

    ``group`` gives the group of each selected row (aligned with ``values[rows]``).
    Missing values are not counted, nor are texts that, stripped and lower-cased, are in
    ``skip`` (police.uk's nameless "On or near" snap points).
    """
    codes, names = encoded(values, rows)
    pa.default_memory_pool().release_unused()  # the selection and hash table's pages
    if skip and len(names):
        dropped = pc.is_in(pc.utf8_lower(pc.utf8_trim_whitespace(names)), pa.array(skip))
        gone = np.append(dropped.to_numpy(zero_copy_only=False), True)  # code -1 → gone
        codes = np.where(gone[codes], -1, codes)
    ok = codes >= 0
    width = max(len(names), 1)
    pairs, counts = counts_of(np.asarray(group, np.int64)[ok] * width + codes[ok])
    g, code = np.divmod(pairs, width)
    if top is not None and g.size:  # keep each group's top counts, ties included
        order = np.lexsort((-counts, g))
        g, code, counts = g[order], code[order], counts[order]
        first = np.searchsorted(g, g)
        nth = np.minimum(first + top, np.searchsorted(g, g, side="right")) - 1
        keep = counts >= counts[nth]
        g, code, counts = g[keep], code[keep], counts[keep]
    # ties by text: Arrow sorts the candidate texts (byte order, as Python's str order);
    # Python strings are made only for the texts kept
    used, at = unique_inverse(code)
    taken = names.take(pa.array(used))
    rank = np.empty(used.size, np.int64)
    rank[pc.sort_indices(taken).to_numpy()] = np.arange(used.size)
    order = np.lexsort((rank[at], -counts, g))
    g, at, counts = g[order], at[order], counts[order]
    if top is not None:
        keep = np.arange(g.size) - np.searchsorted(g, g) < top
        g, at, counts = g[keep], at[keep], counts[keep]
    kept, slot = unique_inverse(at)
    text = taken.take(pa.array(kept)).to_pylist()
    out: list[list[tuple[str, int]]] = [[] for _ in range(k)]
    for gi, ti, n in zip(g.tolist(), slot.tolist(), counts.tolist()):
        out[gi].append((text[ti], n))
    return out


def starts_with(values: pd.Series, prefixes: tuple[str, ...]) -> np.ndarray:
    """True where ``values`` (texts, or a categorical of texts) start with one of
    ``prefixes``; missing values are False. A categorical is tested per category.

    >>> starts_with(pd.Series(["ab", None, "cd"], dtype="category"), ("a", "x")).tolist()
    [True, False, False]
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        hit = values.cat.categories.astype("str").str.startswith(prefixes)
        return np.append(np.asarray(hit, bool), False)[values.cat.codes.to_numpy()]
    return values.astype("str").str.startswith(prefixes, na=False).to_numpy(bool)


__all__ = ["encoded", "starts_with", "tallies"]
