"""Did an intervention work? Before/after counts, Weighted Displacement Difference, verdict.

Four places are counted before and after an intervention (a day of action,
a patrol plan, CCTV): the **target** area, a **buffer** round it (where crime
may be displaced to, or where benefits may spread), a **control** area that
had no intervention but is otherwise alike, and optionally the control's own
buffer. Counts per window are taken as Poisson.

Weighted Displacement Difference (Wheeler & Ratcliffe 2018, *Crime Science*
7:11)::

    WDD = ΔT − ΔC + ΔD − ΔCd        Δ = after − r · before

with ``T``, ``C``, ``D``, ``Cd`` the counts in target, control, buffer and
control buffer, and ``r`` the ratio of the after window's length to the
before window's (1 for equal windows, as Wheeler & Ratcliffe assume; other
lengths scale the before counts to the after window). Negative WDD means
fewer incidents than the control's trend predicts, displacement to the buffer
included. With independent Poisson counts::

    Var(WDD) = T₁ + r² T₀ + C₁ + r² C₀ + D₁ + r² D₀ + Cd₁ + r² Cd₀

and ``z = WDD / √Var`` is tested against the standard normal. Without a
control buffer its two terms are dropped (as the paper allows).

Harm-weighted WDD replaces each count by the sum of its incidents' harm
weights; the counts are then compound Poisson, so each variance term is the
sum of the *squared* weights (``Σ w²``), not the sum of the weights.

Percent change in an area, ``100 (θ − 1)`` with ``θ = X₁ / (r X₀)``, has an
exact interval: given ``X₀ + X₁ = n``, ``X₁`` is binomial with
``π = r θ / (1 + r θ)``, so the Clopper–Pearson interval for ``π`` gives one
for ``θ``. The change relative to control, ``(T₁/T₀) / (C₁/C₀)``, gets a
log-scale (Wald) interval with ``Var(log) = Σ 1/X`` (0.5 added to every count
when one is zero).

The verdict claims a change only when the WDD test is significant *and* the
target's own exact interval excludes no change, in the same direction: a fall
that the control shared is not credited to the intervention, and a small
WDD from quiet areas is not called an effect. Otherwise it says "no evidence
of change" and gives the range of effects the data are consistent with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import shapely

from .change_stats import AREAS, WDD, Change, poisson_change, relative_change, wdd

# --------------------------------------------------------------------------- result


@dataclass
class BeforeAfterResult:
    """Counts, WDD (count and harm), percent changes and a verdict in plain words."""

    counts: dict[str, dict[str, float]]  # area -> {"before", "after"}
    windows: dict[str, list[str]]
    ratio: float
    wdd: WDD
    harm_wdd: WDD | None
    changes: dict[str, Change]  # target, control, buffer, control_buffer, target_vs_control
    verdict: str  # "reduction", "increase", "no evidence of change"
    summary: str
    alpha: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "summary": self.summary,
            "alpha": self.alpha,
            "windows": self.windows,
            "window_ratio": self.ratio,
            "counts": self.counts,
            "wdd": self.wdd.to_dict(),
            "harm_wdd": self.harm_wdd.to_dict() if self.harm_wdd else None,
            "changes": {k: v.to_dict() for k, v in self.changes.items()},
            "notes": self.notes,
        }


def _pct(c: Change) -> str:
    if not math.isfinite(c.rate_ratio):
        return "could not be estimated (nothing before)"
    hi = "∞" if not math.isfinite(c.ci_high) else f"{100 * (c.ci_high - 1):+.0f} %"
    return f"{c.percent:+.0f} % (95 % CI {100 * (c.ci_low - 1):+.0f} % to {hi})"


def assess(
    before: Mapping[str, float],
    after: Mapping[str, float],
    *,
    ratio: float = 1.0,
    harm_before: Mapping[str, float] | None = None,
    harm_after: Mapping[str, float] | None = None,
    harm_sq_before: Mapping[str, float] | None = None,
    harm_sq_after: Mapping[str, float] | None = None,
    alpha: float = 0.05,
    windows: dict[str, list[str]] | None = None,
) -> BeforeAfterResult:
    """The statistics and verdict from counts per area (``target`` and ``control`` required).

    See the module docstring for the rule behind the verdict.
    """
    for name in ("target", "control"):
        if name not in before or name not in after:
            raise ValueError(f"counts: expected '{name}' before and after, got {sorted(before)}")
    if not (0 < alpha < 1):
        raise ValueError(f"alpha: expected a level in (0, 1), got {alpha!r}")
    areas = [a for a in AREAS if a in before or a in after]
    counts = {
        a: {"before": float(before.get(a, 0)), "after": float(after.get(a, 0))} for a in areas
    }
    w = wdd(before, after, ratio=ratio, alpha=alpha)
    harm_w = None
    if harm_before is not None and harm_after is not None:
        harm_w = wdd(
            harm_before,
            harm_after,
            ratio=ratio,
            variance_before=harm_sq_before,
            variance_after=harm_sq_after,
            alpha=alpha,
        )
    changes = {
        a: poisson_change(counts[a]["before"], counts[a]["after"], ratio, alpha) for a in areas
    }
    changes["target_vs_control"] = relative_change(
        (counts["target"]["before"], counts["target"]["after"]),
        (counts["control"]["before"], counts["control"]["after"]),
        alpha,
    )
    t = changes["target"]
    significant = w.p < alpha
    if significant and w.estimate < 0 and t.ci_high < 1:
        verdict = "reduction"
    elif significant and w.estimate > 0 and t.ci_low > 1:
        verdict = "increase"
    else:
        verdict = "no evidence of change"
    level = f"{1 - alpha:.0%}"
    lines = []
    tc = counts["target"]
    wdd_text = (
        f"WDD = {w.estimate:+.1f} incidents ({level} CI {w.ci_low:+.1f} to {w.ci_high:+.1f}; "
        f"z = {w.z:.2f}, p = {w.p:.3f})"
    )
    if verdict == "no evidence of change":
        lines.append(
            f"No evidence of change: the target went from {tc['before']:.0f} to "
            f"{tc['after']:.0f} incidents, {_pct(t)}; weighed against the control and buffer, "
            f"{wdd_text}. The data are consistent with anything from "
            f"{-w.ci_low:.0f} fewer to {w.ci_high:.0f} more incidents than expected"
            if w.ci_low < 0 < w.ci_high
            else f"No evidence of change attributable to the intervention: the target went from "
            f"{tc['before']:.0f} to {tc['after']:.0f} incidents, {_pct(t)}; {wdd_text}"
        )
    else:
        word = "fell" if verdict == "reduction" else "rose"
        lines.append(
            f"Evidence of {'a reduction' if verdict == 'reduction' else 'an increase'}: the "
            f"target {word} from {tc['before']:.0f} to {tc['after']:.0f} incidents, "
            f"{_pct(t)}, beyond the control's change ({_pct(changes['control'])}) with "
            f"displacement counted: {wdd_text}"
        )
    if "buffer" in counts:
        b = counts["buffer"]
        lines.append(
            f"The buffer went from {b['before']:.0f} to {b['after']:.0f}, {_pct(changes['buffer'])}"
        )
    if harm_w is not None:
        lines.append(
            f"Harm-weighted WDD {harm_w.estimate:+.1f} (z = {harm_w.z:.2f}, p = {harm_w.p:.3f})"
        )
    summary = ". ".join(lines) + "."
    notes = []
    if min(tc["before"], tc["after"], counts["control"]["before"]) < 10:
        notes.append(
            "fewer than 10 incidents in the target or control: the normal approximation of "
            "the WDD test is rough; rely on the exact intervals"
        )
    return BeforeAfterResult(
        counts, windows or {}, ratio, w, harm_w, changes, verdict, summary, alpha, notes
    )


# --------------------------------------------------------------------------- from incidents


def _window(pair, name) -> tuple[pd.Timestamp, pd.Timestamp]:
    try:
        start, end = (pd.Timestamp(v) for v in pair)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected (start, end) dates, got {pair!r}") from exc
    # times with a zone are compared in UTC; times without one are taken as UTC
    start, end = (
        v if v.tz is None else v.tz_convert("UTC").tz_localize(None) for v in (start, end)
    )
    if not start < end:
        raise ValueError(f"{name}: expected start before end, got {start} .. {end}")
    return start, end


def _polygon(geom, name):
    if not isinstance(geom, shapely.Polygon | shapely.MultiPolygon) or geom.is_empty:
        raise ValueError(
            f"{name}: expected a non-empty shapely Polygon or MultiPolygon in the analysis CRS, "
            f"got {type(geom).__name__}"
        )
    return geom


def evaluate(
    incidents: pd.DataFrame,
    target,
    control,
    buffer: float | shapely.Geometry | None = None,
    *,
    control_buffer: shapely.Geometry | None = None,
    before: tuple[datetime | str, datetime | str],
    after: tuple[datetime | str, datetime | str],
    harm_weights=None,
    alpha: float = 0.05,
) -> BeforeAfterResult:
    """Before/after evaluation of an intervention in ``target`` against ``control``.

    Parameters
    ----------
    incidents : ``x``, ``y`` (analysis CRS, metres), ``occurred_at``; and
        ``category`` for harm weights. Select the categories the intervention
        addressed before calling.
    target, control : polygons in the analysis CRS. The control must not
        overlap the target or its buffer.
    buffer : metres (a ring that wide round the target; the control then
        gets a ring of the same width as its own buffer, less any part of
        the target and its ring, unless ``control_buffer`` is given) or a
        polygon (the target is cut out of it); ``None`` for no displacement
        area.
    before, after : ``(start, end)`` windows, start inclusive, end exclusive.
        police.uk dates are months: use whole months. Times with a zone
        (windows or data) are compared in UTC; times without one are UTC.
    harm_weights : :class:`hotspots.harm.HarmWeights` (or a mapping category
        → weight) for the harm-weighted WDD; default the documented weights
        when ``category`` is present, none otherwise.
    alpha : significance level of the test and intervals (default 0.05).
    """
    target = _polygon(target, "target")
    control = _polygon(control, "control")
    b0, b1 = _window(before, "before")
    a0, a1 = _window(after, "after")
    if a0 < b1 and b0 < a1:
        raise ValueError(
            f"before {b0}..{b1} and after {a0}..{a1}: expected windows that do not overlap"
        )
    ring = cring = None
    if buffer is not None:
        if isinstance(buffer, int | float) and not isinstance(buffer, bool):
            if not buffer > 0:
                raise ValueError(f"buffer: expected a width in metres > 0, got {buffer!r}")
            ring = target.buffer(float(buffer)).difference(target)
            if control_buffer is None:
                cring = control.buffer(float(buffer)).difference(control)
        else:
            ring = _polygon(buffer, "buffer").difference(target)
    if control_buffer is not None:
        cring = _polygon(control_buffer, "control_buffer").difference(control)
    treated = target if ring is None else shapely.union(target, ring)
    if cring is not None and control_buffer is None:
        cring = cring.difference(treated)  # a control next to the target: keep the rings apart
    untreated = control if cring is None else shapely.union(control, cring)
    overlap = shapely.intersection(treated, untreated).area
    if overlap > 1.0:
        raise ValueError(
            f"control: expected an area apart from the target and its buffer, but they overlap "
            f"by {overlap:,.0f} m²; choose a control further away or a narrower buffer"
        )
    missing = {"x", "y", "occurred_at"} - set(incidents.columns)
    if missing:
        raise ValueError(
            f"incidents: expected columns x, y, occurred_at; missing {sorted(missing)}"
        )
    x = incidents["x"].to_numpy(float)
    y = incidents["y"].to_numpy(float)
    at = pd.to_datetime(incidents["occurred_at"])
    if at.dt.tz is not None:  # compared in UTC, as the windows
        at = at.dt.tz_convert("UTC").dt.tz_localize(None)
    period = {
        "before": ((at >= b0) & (at < b1)).to_numpy(),
        "after": ((at >= a0) & (at < a1)).to_numpy(),
    }
    where = {
        "target": shapely.contains_xy(target, x, y) | shapely.intersects_xy(target.boundary, x, y)
    }
    if ring is not None:
        where["buffer"] = shapely.intersects_xy(ring, x, y) & ~where["target"]
    where["control"] = shapely.contains_xy(control, x, y) | shapely.intersects_xy(
        control.boundary, x, y
    )
    if cring is not None:
        where["control_buffer"] = shapely.intersects_xy(cring, x, y) & ~where["control"]

    harm = None
    if harm_weights is None and "category" in incidents:
        from .harm import HarmWeights

        harm_weights = HarmWeights.default()
    if harm_weights is not None:
        if "category" not in incidents:
            raise ValueError("harm_weights: incidents need a 'category' column to be weighted")
        cats = incidents["category"].to_numpy()
        if isinstance(harm_weights, Mapping):
            harm = np.array([float(harm_weights.get(c, 1.0)) for c in cats])
        else:
            harm = harm_weights.weigh(cats)

    def totals(values):
        return {
            p: {a: float(values[m & period[p]].sum()) for a, m in where.items()} for p in period
        }

    ones = np.ones(len(incidents))
    c = totals(ones)
    h = hs = None
    if harm is not None:
        h = totals(harm)
        hs = totals(harm**2)
    ratio = (a1 - a0) / (b1 - b0)
    windows = {
        "before": [b0.isoformat(), b1.isoformat()],
        "after": [a0.isoformat(), a1.isoformat()],
    }
    result = assess(
        c["before"],
        c["after"],
        ratio=float(ratio),
        harm_before=h and h["before"],
        harm_after=h and h["after"],
        harm_sq_before=hs and hs["before"],
        harm_sq_after=hs and hs["after"],
        alpha=alpha,
        windows=windows,
    )
    if "occurred_precision" in incidents and (incidents["occurred_precision"] == "month").any():
        aligned = all(t.day == 1 and t == t.normalize() for t in (a0, a1, b0, b1))
        if not aligned:
            result.notes.append(
                "some incidents are dated by month only (police.uk): windows that do not "
                "start and end on the 1st of a month split months arbitrarily"
            )
    return result


__all__ = [
    "WDD",
    "BeforeAfterResult",
    "Change",
    "assess",
    "evaluate",
    "poisson_change",
    "relative_change",
    "wdd",
]
