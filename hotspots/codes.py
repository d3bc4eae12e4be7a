"""Text columns as integer codes: counting streets and categories per hotspot without a
Python string per incident.

A column read from the store holds Arrow strings; turning it into a NumPy object array
makes a Python string per row (≈ 0.6 s per 1M rows, most of it the garbage collector's).
:func:`text_codes` factorises the column as it is (a hash pass in Arrow) and sorts only
the distinct values the wanted rows use, so code order is text order.

Examples
--------
>>> import pandas as pd, numpy as np
>>> codes, names = text_codes(pd.Series(["b", "a", None, "c", "a"]), np.array([0, 1, 2, 4]))
>>> codes.tolist(), list(names)
([1, 0, -1, 0], ['a', 'b'])
>>> texts(names, np.array([1, 1]))
{1: 'b'}
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .uniq import unique


def text_codes(values: pd.Series, rows: np.ndarray | None = None) -> tuple[np.ndarray, pd.Index]:
    """``(codes, names)`` of ``values[rows]`` (all rows when ``None``): ``names`` are the
    distinct texts used, sorted (an Index: still Arrow strings), and ``codes`` index
    them (-1 for a missing value)."""
    if rows is not None:  # only the wanted rows are hashed (a street per incident:
        values = values.iloc[rows]  # 2M distinct texts at 5M incidents)
    codes, uniques = pd.factorize(values)
    if isinstance(uniques.dtype, pd.CategoricalDtype):  # sort texts, not category codes
        uniques = pd.Index(uniques.astype("str"))
    used = unique(codes[codes >= 0])
    if not used.size:
        return np.full(codes.size, -1, dtype=np.int64), pd.Index([], dtype="str")
    taken = uniques.take(used)
    order = np.asarray(taken.argsort())  # the distinct texts used, in text order
    rank = np.full(len(uniques) + 1, -1, dtype=np.int64)  # code -1 → rank[-1] = -1
    rank[used[order]] = np.arange(used.size)
    return rank[codes], taken.take(order)


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


def texts(names: pd.Index, codes: np.ndarray) -> dict[int, str]:
    """Code → text for the distinct ``codes`` given: Python strings for these only."""
    used = unique(codes)
    return dict(zip(used.tolist(), (str(t) for t in names.take(used).tolist())))


__all__ = ["starts_with", "text_codes", "texts"]
