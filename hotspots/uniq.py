"""Distinct values by sorting: ``numpy.unique`` without its hash path.

NumPy 2.4's ``np.unique`` finds the distinct values of an integer array without
``return_inverse`` through a hash table: on this machine ~4.9 s for 5M int64 values,
where sorting them (SIMD sort) and keeping the changes takes ~0.04 s; with
``return_inverse`` it uses a stable argsort (~0.9 s) where a plain argsort takes ~0.35 s.
The functions here give exactly what ``np.unique`` gives (sorted distinct values, and
each input's position among them), by sorting.

Examples
--------
>>> import numpy as np
>>> unique(np.array([3, 1, 3, 2])).tolist()
[1, 2, 3]
>>> u, inv = unique_inverse(np.array([3, 1, 3, 2]))
>>> u.tolist(), inv.tolist()
([1, 2, 3], [2, 0, 2, 1])
>>> u, inv = unique_pairs(np.array([2.0, 1.0, 2.0]), np.array([5.0, 7.0, 5.0]))
>>> u.tolist(), inv.tolist()
([[1.0, 7.0], [2.0, 5.0]], [1, 0, 1])
"""

from __future__ import annotations

import numpy as np


def _changes(s: np.ndarray) -> np.ndarray:
    """True where a sorted array starts a new value."""
    flag = np.empty(s.size, dtype=bool)
    if s.size:
        flag[0] = True
        np.not_equal(s[1:], s[:-1], out=flag[1:])
    return flag


def unique(a) -> np.ndarray:
    """The sorted distinct values of a 1-D array (``np.unique(a)``)."""
    s = np.sort(np.asarray(a).ravel())
    return s[_changes(s)]


def unique_inverse(a) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(a, return_inverse=True)`` for a 1-D array, by one argsort."""
    a = np.asarray(a).ravel()
    order = np.argsort(a)
    s = a[order]
    flag = _changes(s)
    inverse = np.empty(a.size, dtype=np.int64)
    inverse[order] = np.cumsum(flag) - 1
    return s[flag], inverse


def unique_pairs(a, b) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ``(a, b)`` pairs sorted by ``a`` then ``b`` (as ``np.unique`` of
    ``a + 1j * b`` orders them) as an ``(n, 2)`` array, and each row's pair index."""
    ua, ia = unique_inverse(a)
    ub, ib = unique_inverse(b)
    keys, inverse = unique_inverse(ia * max(ub.size, 1) + ib)
    return np.column_stack([ua[keys // max(ub.size, 1)], ub[keys % max(ub.size, 1)]]), inverse


__all__ = ["unique", "unique_inverse", "unique_pairs"]
