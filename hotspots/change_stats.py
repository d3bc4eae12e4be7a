"""The statistics of a before/after evaluation (:mod:`hotspots.beforeafter`): an area's
change with its exact (Clopper–Pearson) interval, the change relative to control on
the log scale, and the Weighted Displacement Quotient and Difference with its
(compound) Poisson variance."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: the areas of an evaluation
AREAS = ("target", "control", "buffer", "control_buffer")


@dataclass(frozen=True)
class Change:
    """Change in one area (or relative to control): ratio after/before with its interval."""

    before: float
    after: float
    rate_ratio: float
    ci_low: float
    ci_high: float

    @property
    def percent(self) -> float:
        return 100.0 * (self.rate_ratio - 1.0)

    def to_dict(self) -> dict:
        return {
            "before": self.before,
            "after": self.after,
            "rate_ratio": _num(self.rate_ratio),
            "percent_change": _num(self.percent),
            "percent_ci": [_num(100 * (self.ci_low - 1)), _num(100 * (self.ci_high - 1))],
        }


def _num(v):
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else (v if math.isfinite(v) else None)


def poisson_change(before: float, after: float, ratio: float = 1.0, alpha: float = 0.05) -> Change:
    """Rate ratio after/before with the exact conditional (Clopper–Pearson) interval.

    ``ratio`` is the after window's length over the before window's. With
    ``before = 0`` the ratio and upper limit are infinite; with both 0 the
    interval is (0, ∞).

    Examples
    --------
    >>> c = poisson_change(100, 70)
    >>> round(c.percent), round(100 * (c.ci_low - 1)), round(100 * (c.ci_high - 1))
    (-30, -49, -4)
    """
    for name, v in (("before", before), ("after", after)):
        if not (v >= 0 and float(v).is_integer()):
            raise ValueError(f"{name}: expected a whole count ≥ 0, got {v!r}")
    if not ratio > 0:
        raise ValueError(f"ratio: expected a window length ratio > 0, got {ratio!r}")
    n = before + after
    theta = after / (ratio * before) if before > 0 else (math.inf if after > 0 else math.nan)
    if n == 0:
        return Change(before, after, theta, 0.0, math.inf)
    a = alpha / 2
    lo = stats.beta.ppf(a, after, before + 1) if after > 0 else 0.0
    hi = stats.beta.ppf(1 - a, after + 1, before) if before > 0 else 1.0

    def to_theta(p):
        return math.inf if p >= 1 else p / ((1 - p) * ratio)

    return Change(before, after, theta, to_theta(lo), to_theta(hi))


def relative_change(
    target: tuple[float, float], control: tuple[float, float], alpha: float = 0.05
) -> Change:
    """``(T₁/T₀) / (C₁/C₀)`` with a Wald interval on the log scale (window lengths cancel)."""
    t0, t1 = target
    c0, c1 = control
    counts = np.array([t0, t1, c0, c1], dtype=float)
    if (counts == 0).any():
        counts = counts + 0.5
    t0_, t1_, c0_, c1_ = counts
    log_rr = math.log((t1_ / t0_) / (c1_ / c0_))
    se = math.sqrt(float((1 / counts).sum()))
    zq = stats.norm.ppf(1 - alpha / 2)
    return Change(
        float(t0),
        float(t1),
        math.exp(log_rr),
        math.exp(log_rr - zq * se),
        math.exp(log_rr + zq * se),
    )


@dataclass(frozen=True)
class WDD:
    """Weighted Displacement Difference, its variance and two-sided z-test."""

    estimate: float
    variance: float
    z: float
    p: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict:
        return {
            "estimate": _num(self.estimate),
            "variance": _num(self.variance),
            "se": _num(math.sqrt(self.variance)),
            "z": _num(self.z),
            "p": _num(self.p),
            "ci": [_num(self.ci_low), _num(self.ci_high)],
        }


def wdd(
    before: Mapping[str, float],
    after: Mapping[str, float],
    *,
    ratio: float = 1.0,
    variance_before: Mapping[str, float] | None = None,
    variance_after: Mapping[str, float] | None = None,
    alpha: float = 0.05,
) -> WDD:
    """Wheeler & Ratcliffe's WDD from per-area totals (``target``, ``control``, ``buffer``,
    ``control_buffer``; missing areas count as absent).

    Variances default to the totals themselves (Poisson counts); for harm
    sums pass ``Σ w²`` per area and window.

    Examples
    --------
    >>> w = wdd({"target": 100, "control": 100, "buffer": 50},
    ...         {"target": 70, "control": 100, "buffer": 50})
    >>> w.estimate, w.variance, round(w.z, 2)
    (-30.0, 470.0, -1.38)
    """
    variance_before = variance_before or before
    variance_after = variance_after or after
    sign = {"target": 1, "control": -1, "buffer": 1, "control_buffer": -1}
    unknown = (set(before) | set(after)) - set(sign)
    if unknown:
        raise ValueError(f"areas: expected some of {AREAS}, got {sorted(unknown)}")
    est = var = 0.0
    for area, s in sign.items():
        b, a = before.get(area), after.get(area)
        if b is None and a is None:
            continue
        est += s * (float(a or 0) - ratio * float(b or 0))
        var += float(variance_after.get(area, 0)) + ratio**2 * float(variance_before.get(area, 0))
    if var > 0:
        z = est / math.sqrt(var)
        p = float(2 * stats.norm.sf(abs(z)))
    else:
        z, p = 0.0, 1.0
    half = stats.norm.ppf(1 - alpha / 2) * math.sqrt(var)
    return WDD(est, var, z, p, est - half, est + half)


__all__ = ["AREAS", "WDD", "Change", "poisson_change", "relative_change", "wdd"]
