"""Scores of a forecast on a test window: hit rate, PAI, PEI and RRI.

Definitions are in the package docstring (:mod:`hotspots.forecast`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ForecastScore:
    """Scores of one forecast on one test window. See the module docstring for definitions."""

    hits: float
    total: float
    selected_area_m2: float
    total_area_m2: float
    hit_rate: float
    pai: float
    pei: float
    rri: float
    max_hits: float | None = None
    train_hits: float | None = None
    train_total: float | None = None
    harm_hit_rate: float | None = None
    harm_pai: float | None = None

    @property
    def area_share(self) -> float:
        return self.selected_area_m2 / self.total_area_m2

    def to_dict(self) -> dict:
        d = {k: _num(v) for k, v in self.__dict__.items()}
        d["area_share"] = _num(self.area_share)
        return d


def _num(v):
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) or math.isinf(v) else v


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def score_forecast(
    selected_area_m2: float,
    total_area_m2: float,
    hits: float,
    total: float,
    *,
    max_hits: float | None = None,
    train_hits: float | None = None,
    train_total: float | None = None,
    harm_hits: float | None = None,
    harm_total: float | None = None,
) -> ForecastScore:
    """Hit rate, PAI, PEI and RRI of a selected area on a test window.

    Parameters
    ----------
    selected_area_m2, total_area_m2 : area ``a`` flagged and study area ``A``, m².
    hits, total : test incidents inside the selected area (``n``) and in the
        study area (``N``).
    max_hits : ``n*``, the most test incidents any selection of the same area
        could have caught (for PEI); PEI is NaN without it.
    train_hits, train_total : ``n₁`` and ``N₁`` of the training window (for
        RRI); RRI is NaN without them or when ``n₁ = 0``.
    harm_hits, harm_total : the same as ``hits``/``total`` for harm weights;
        gives ``harm_hit_rate`` and ``harm_pai``.

    Returns
    -------
    ForecastScore
        Ratios with a zero denominator are NaN (``None`` in ``to_dict``).

    Examples
    --------
    >>> s = score_forecast(5.0, 100.0, hits=20, total=100, max_hits=40,
    ...                    train_hits=25, train_total=200)
    >>> round(s.hit_rate, 3), round(s.pai, 3), round(s.pei, 3), round(s.rri, 3)
    (0.2, 4.0, 0.5, 1.6)
    """
    for name, v in (
        ("selected_area_m2", selected_area_m2),
        ("total_area_m2", total_area_m2),
        ("hits", hits),
        ("total", total),
    ):
        if not (isinstance(v, int | float | np.number) and math.isfinite(v) and v >= 0):
            raise ValueError(f"{name}: expected a finite number ≥ 0, got {v!r}")
    if total_area_m2 <= 0 or selected_area_m2 > total_area_m2 * (1 + 1e-9):
        raise ValueError(
            f"areas: expected 0 ≤ selected ≤ total and total > 0, got selected "
            f"{selected_area_m2} m², total {total_area_m2} m²"
        )
    if hits > total:
        raise ValueError(f"hits: expected at most total ({total}), got {hits}")
    if max_hits is not None and not (hits <= max_hits <= total):
        raise ValueError(f"max_hits: expected hits ≤ max_hits ≤ total, got {max_hits}")
    share = selected_area_m2 / total_area_m2
    hit_rate = _ratio(hits, total)
    pai = _ratio(hit_rate, share)
    pei = _ratio(hits, max_hits) if max_hits is not None else float("nan")
    rri = float("nan")
    if train_hits is not None and train_total is not None:
        rri = _ratio(_ratio(hits, train_hits), _ratio(total, train_total))
    harm_hit_rate = harm_pai = None
    if harm_hits is not None and harm_total is not None:
        harm_hit_rate = _ratio(harm_hits, harm_total)
        harm_pai = _ratio(harm_hit_rate, share)
    return ForecastScore(
        hits=float(hits),
        total=float(total),
        selected_area_m2=float(selected_area_m2),
        total_area_m2=float(total_area_m2),
        hit_rate=hit_rate,
        pai=pai,
        pei=pei,
        rri=rri,
        max_hits=None if max_hits is None else float(max_hits),
        train_hits=None if train_hits is None else float(train_hits),
        train_total=None if train_total is None else float(train_total),
        harm_hit_rate=harm_hit_rate,
        harm_pai=harm_pai,
    )


__all__ = ["ForecastScore", "score_forecast"]
