"""Emerging Hot Spot Analysis: Gi* per month, Mann–Kendall trend, ArcGIS's 17 categories.

For each month with data, Gi* (:func:`hotspots.gistar.gi_star`) gives every
cell a z-score and a hot/cold class; the Mann–Kendall test on each cell's
series of z-scores says whether the clustering is intensifying or fading;
the pattern of significant months and the trend give the category, after
ArcGIS Pro's Emerging Hot Spot Analysis (rules in
:func:`emerging_hotspots`).

Months with no data at all (a month police.uk did not publish) are left out
of every series, never treated as a month with zero incidents.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse, stats

from .gistar import CONFIDENCE_ALPHA, gi_star

PATTERNS = (
    "new",
    "consecutive",
    "intensifying",
    "persistent",
    "diminishing",
    "sporadic",
    "oscillating",
    "historical",
)
CATEGORIES = (
    *(f"{p} hot spot" for p in PATTERNS),
    *(f"{p} cold spot" for p in PATTERNS),
    "no pattern detected",
)


@dataclass
class MannKendall:
    """Mann–Kendall trend test of one series (months without data excluded)."""

    s: float  # Σ_{i<j} sign(x_j − x_i)
    var_s: float  # variance of S with the tie correction
    z: float  # (S − sign S) / √var_s, 0 when S = 0
    p: float  # two-sided normal p
    tau: float  # S / (n (n − 1) / 2)
    n: int  # values used


#: rows per block of :func:`_mk_rows` (its temporaries are a few block × months arrays)
_MK_BLOCK = 1 << 15


def _mk_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mann–Kendall S, var(S), z and p for each row of a 2-D array without NaN; in blocks
    of rows (each row stands alone), so 500k cells × 36 months need tens of MB, not 0.5 GB."""
    if x.shape[0] <= _MK_BLOCK:
        return _mk_block(x)
    parts = [_mk_block(x[i : i + _MK_BLOCK]) for i in range(0, x.shape[0], _MK_BLOCK)]
    return tuple(np.concatenate(col) for col in zip(*parts))  # type: ignore[return-value]


def _mk_block(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    m, n = x.shape
    s = np.zeros(m)
    for k in range(n - 1):
        s += np.sign(x[:, k + 1 :] - x[:, k : k + 1]).sum(axis=1)
    ties: np.ndarray = np.zeros(m)
    if m and n:
        ordered = np.sort(x, axis=1)
        starts = np.ones_like(ordered, dtype=bool)
        starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
        runs = np.bincount(np.cumsum(starts.ravel()) - 1).astype(float)
        row_of_run = np.repeat(np.arange(m), starts.sum(axis=1))
        ties = np.bincount(row_of_run, weights=runs * (runs - 1) * (2 * runs + 5), minlength=m)
    var_s = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    z = np.zeros(m)
    ok = (s != 0) & (var_s > 0)
    z[ok] = (s[ok] - np.sign(s[ok])) / np.sqrt(var_s[ok])
    p = 2.0 * stats.norm.sf(np.abs(z))
    return s, var_s, z, p


def mann_kendall(series) -> MannKendall:
    """Mann–Kendall trend test; NaN entries (months with no data) are dropped, not zeroed.

    Matches ``pymannkendall.original_test`` (S, tie-corrected variance,
    continuity-corrected z, two-sided normal p) on the same series.

    Examples
    --------
    >>> r = mann_kendall([1.0, 2.0, float("nan"), 2.0, 5.0])
    >>> r.n, r.s
    (4, 5.0)
    """
    x = np.asarray(series, dtype=float).ravel()
    x = x[~np.isnan(x)]
    s, var_s, z, p = _mk_rows(x[None, :])
    n = x.size
    tau = float(s[0]) / (0.5 * n * (n - 1)) if n > 1 else 0.0
    return MannKendall(float(s[0]), float(var_s[0]), float(z[0]), float(p[0]), tau, n)


@dataclass
class EmergingResult:
    """Emerging hot spot category and its evidence, per cell.

    Attributes
    ----------
    category : one of :data:`CATEGORIES` (str array).
    trend_z, trend_p : Mann–Kendall z and two-sided p of the cell's Gi* z series.
    n_hot, n_cold : months in which the cell is a significant hot / cold spot.
    last_bin : Gi_Bin (−3…+3, 90/95/99 %) in the last month with data.
    z, bins : Gi* z and Gi_Bin per cell × month used.
    months_used : indices of the input columns used (those with data).
    """

    category: np.ndarray
    trend_z: np.ndarray
    trend_p: np.ndarray
    n_hot: np.ndarray
    n_cold: np.ndarray
    last_bin: np.ndarray
    z: np.ndarray
    bins: np.ndarray
    months_used: np.ndarray


def classify(
    hot: np.ndarray,
    cold: np.ndarray,
    trend_z: np.ndarray,
    trend_p: np.ndarray,
    alpha: float = 0.10,
    sporadic_needs_final: bool = False,
) -> np.ndarray:
    """Categories from cells × months boolean hot / cold arrays and the trend.

    The rules are those of :func:`emerging_hotspots`; ``trend_z``/``trend_p``
    are the Mann–Kendall z and p of each cell's Gi* z series.
    """
    hot, cold = np.asarray(hot, bool), np.asarray(cold, bool)
    m, t = hot.shape
    out = np.full(m, "no pattern detected", dtype="<U24")
    if t == 0:
        return out
    up = (trend_p < alpha) & (trend_z > 0)
    down = (trend_p < alpha) & (trend_z < 0)
    done = np.zeros(m, dtype=bool)
    for kind, sig, other, rising, falling in (
        ("hot", hot, cold, up, down),
        ("cold", cold, hot, down, up),
    ):
        k = sig.sum(axis=1)
        mostly = 10 * k >= 9 * t  # at least 90 % of the months
        run = np.cumprod(sig[:, ::-1], axis=1).sum(axis=1)  # trailing run of significant months
        final = sig[:, -1]
        quiet_final = ~hot[:, -1] & ~cold[:, -1]
        rules = [
            (final & mostly & rising, "intensifying"),
            (final & mostly & falling, "diminishing"),
            (final & mostly, "persistent"),
            (final & other.any(axis=1), "oscillating"),
            (final & (k == 1), "new"),
            (final & (run == k), "consecutive"),
            (final, "sporadic"),
            (quiet_final & mostly, "historical"),
            (quiet_final & (k > 0) & ~other.any(axis=1) & (not sporadic_needs_final), "sporadic"),
        ]
        for mask, name in rules:
            pick = mask & ~done
            out[pick] = f"{name} {kind} spot"
            done |= pick
    return out


def emerging_hotspots(
    monthly_values: np.ndarray,
    W: sparse.csr_matrix,
    alpha: float = 0.10,
    permutations: int = 0,
    seed: int = 0,
    fdr: bool = False,
    sporadic_needs_final: bool = False,
) -> EmergingResult:
    """Emerging Hot Spot Analysis of a cells × months array.

    Parameters
    ----------
    monthly_values : cells × months. A month with data but no incident in a
        cell is 0; a month with no data at all is NaN in every cell and is
        left out (a column partly NaN is an error).
    W : binary adjacency with self (diagonal 1), e.g. ``Grid.neighbours(k)``.
    alpha : significance of a hot/cold month and of the trend: 0.10 (90 %,
        ArcGIS's threshold), 0.05 or 0.01. A month is hot for a cell when its
        Gi_Bin is ≥ +1 / +2 / +3 respectively (cold: ≤ −1 / −2 / −3).
    permutations, seed, fdr : passed to :func:`hotspots.gistar.gi_star` for
        each month (month ``t`` gets an independent child of ``seed``).
    sporadic_needs_final : only call a cell sporadic if the final month is
        significant (rule 7 off). ArcGIS Pro's wording of sporadic reads
        "a hot spot for the final time-step interval with a history of
        being on-again off-again"; older wording omits the final step. With
        20 months at 90 %, a cell with no pattern is hot in some month by
        chance more often than not, so rule 7 labels much noise sporadic.

    Returns
    -------
    EmergingResult

    Notes
    -----
    With ``T`` months used, ``H`` / ``C`` the months significantly hot /
    cold, "≥ 90 %" meaning ``10 H ≥ 9 T``, and the trend the Mann–Kendall
    test of the cell's Gi* z-scores (significant: ``p < alpha``), the
    categories are decided in this order (first match wins; the final
    month's state picks the family, so a cell hot now is never a cold
    pattern). Hot (cold is the mirror: swap hot and cold, and "increasing"
    and "decreasing" z):

    1. final month hot and ≥ 90 % hot:
       *intensifying* if the trend is significant and increasing,
       *diminishing* if significant and decreasing, else *persistent*;
    2. final hot, < 90 % hot, cold in some month: *oscillating*;
    3. final hot, never cold, hot only in the final month: *new*;
    4. final hot, never cold, the hot months form one uninterrupted run of
       ≥ 2 ending in the final month, < 90 %: *consecutive*;
    5. final hot, never cold, otherwise (on and off): *sporadic*;
    6. final neither hot nor cold, ≥ 90 % hot: *historical*;
    7. final neither, < 90 % hot, some hot month, never cold: *sporadic*
       (unless ``sporadic_needs_final``);
    8. anything else (including hot and cold months but a quiet final
       month): *no pattern detected*.

    These are ArcGIS's definitions (new: hot for the final time step and
    never hot before; consecutive: a single uninterrupted run of at least two
    hot bins in the final intervals, never hot before the run, < 90 %;
    intensifying / persistent / diminishing: hot for ≥ 90 % including the
    final step, with a significant increasing / no / a significant
    decreasing trend; sporadic: on-again off-again, < 90 %, never cold;
    oscillating: hot for the final step with a history of being cold,
    < 90 %; historical: the final step not hot, ≥ 90 % hot). Where two
    definitions overlap — a cold spot that turns hot only in the final
    month is both "new" and "oscillating" — the cold history wins
    (oscillating). Sporadic does not require the final month to be hot.
    ArcGIS asks for at least 10 time steps; with fewer the 90 % rule is
    coarse (e.g. 9 of 9 months).
    """
    x = np.asarray(monthly_values, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"monthly_values: expected cells × months, got shape {x.shape}")
    month_level(alpha)
    missing = np.isnan(x)
    partial = missing.any(axis=0) & ~missing.all(axis=0)
    if partial.any():
        raise ValueError(
            "monthly_values: a month with no data must be NaN in every cell; columns "
            f"{np.flatnonzero(partial).tolist()} are NaN in some cells only"
        )
    used = np.flatnonzero(~missing.all(axis=0)) if x.shape[0] else np.arange(x.shape[1])
    m, t = x.shape[0], used.size
    z = np.zeros((m, t))
    bins = np.zeros((m, t), dtype=np.int8)
    rngs = month_generators(seed, t)
    for j, col in enumerate(used):
        r = gi_star(x[:, col], W, permutations=permutations, seed=rngs[j], fdr=fdr)
        z[:, j], bins[:, j] = r.z, r.gi_bin
    return from_series(z, bins, used, alpha, sporadic_needs_final)


def month_generators(seed: int, months: int) -> list[np.random.Generator]:
    """One independent random generator per month used, children of ``seed``."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(months)]


def month_level(alpha: float) -> int:
    """The Gi_Bin a month needs to count as hot (cold: its negative) at ``alpha``."""
    if alpha not in CONFIDENCE_ALPHA:
        raise ValueError(f"alpha: expected one of {CONFIDENCE_ALPHA}, got {alpha!r}")
    return sorted(CONFIDENCE_ALPHA, reverse=True).index(alpha) + 1


def from_series(
    z: np.ndarray,
    bins: np.ndarray,
    used: np.ndarray,
    alpha: float = 0.10,
    sporadic_needs_final: bool = False,
) -> EmergingResult:
    """Trend and category of each cell from its monthly Gi* z and Gi_Bin (cells × months
    used); cell by cell, so a partition of the cells gives the same rows."""
    level = month_level(alpha)
    m, t = z.shape
    _, _, trend_z, trend_p = _mk_rows(z)
    hot, cold = bins >= level, bins <= -level
    return EmergingResult(
        category=classify(hot, cold, trend_z, trend_p, alpha, sporadic_needs_final),
        trend_z=trend_z,
        trend_p=trend_p,
        n_hot=hot.sum(axis=1),
        n_cold=cold.sum(axis=1),
        last_bin=bins[:, -1] if t else np.zeros(m, dtype=np.int8),
        z=z,
        bins=bins,
        months_used=used,
    )
