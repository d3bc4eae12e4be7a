"""When to patrol a site: the peak weekday and hours of its timed incidents, or, when
times are unknown (police.uk), its busiest months and seasons — said plainly."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .emerging import _mk_rows
from .plan_model import MIN_TIMED_FOR_PEAK, MONTH_NAMES, PlanParams
from .temporal import WEEKDAYS, temporal_profile


def _busiest_months(monthly: dict[str, int], top: int = 3) -> list[str]:
    ranked = sorted(((c, m) for m, c in monthly.items() if c > 0), key=lambda t: (-t[0], t[1]))
    return [m for _, m in ranked[:top]]


def _month_label(key: str) -> str:
    return f"{MONTH_NAMES[int(key[5:7]) - 1]} {key[:4]}"


def patrol_window(
    occurred_at, precision, months: list[str], params: PlanParams, profile: dict | None = None
) -> dict:
    """When to patrol one site, from its incidents' times; says plainly when times are unknown.

    With ≥ 5 timed incidents: the ``L``-hour block (``L`` = the visit length
    rounded up, at least 2) and weekday holding most of them, within the
    preferred days and hours. Otherwise: times unknown; the busiest months
    and seasonal flags (May–August, Halloween to Bonfire Night) from
    :func:`hotspots.temporal.temporal_profile`.
    """
    stamps = pd.to_datetime(pd.Series(np.asarray(occurred_at, "datetime64[us]")))
    prec = np.asarray(precision)
    timed = prec == "minute"
    profile = profile or temporal_profile(stamps, prec, months).to_dict()
    busiest = _busiest_months(profile["monthly"])
    seasons = []
    if profile["summer"]["flag"]:
        seasons.append("May–August")
    if profile["halloween_bonfire"]["flag"]:
        seasons.append(
            "Halloween to Bonfire Night"
            + (" (October–November as a whole)" if (prec == "month").any() else "")
        )
    out: dict = {
        "times_known": False,
        "timed_incidents": int(timed.sum()),
        "day": None,
        "start_hour": None,
        "end_hour": None,
        "share_in_window": None,
        "busiest_months": busiest,
        "seasonal": seasons,
        "preferred": params.describe_preference(),
    }
    month_text = "busiest months " + ", ".join(_month_label(m) for m in busiest) if busiest else ""
    season_text = ("; more than expected in " + " and ".join(seasons)) if seasons else ""
    if timed.sum() >= MIN_TIMED_FOR_PEAK:
        t = stamps[timed]
        matrix = np.zeros((7, 24))
        np.add.at(matrix, (t.dt.day_of_week.to_numpy(), t.dt.hour.to_numpy()), 1)
        length = max(2, math.ceil(params.hours_per_site))
        ok_hours, ok_days = params.preferred_hours(), params.preferred_days()
        n_ok = int(ok_hours.sum())
        length = min(length, n_ok)
        best: tuple[float, int, int] = (-1.0, 0, 0)
        for day in (int(d) for d in np.flatnonzero(ok_days)):
            for h0 in range(24):
                hours = [(h0 + i) for i in range(length)]
                if not all(ok_hours[h % 24] for h in hours):
                    continue
                score = sum(matrix[(day + h // 24) % 7, h % 24] for h in hours)
                if score > best[0]:
                    best = (float(score), day, h0)
        score, day, h0 = best
        share = score / timed.sum()
        out.update(
            times_known=True,
            day=WEEKDAYS[day],
            start_hour=h0,
            end_hour=(h0 + length) % 24,
            share_in_window=round(float(share), 3),
        )
        out["text"] = (
            f"{WEEKDAYS[day]} {h0:02d}:00–{(h0 + length) % 24:02d}:00: {int(score)} of "
            f"{int(timed.sum())} timed incidents here fell in this window"
            + (f" (within your preference: {out['preferred']})" if out["preferred"] else "")
            + (f"; {month_text}" if month_text else "")
            + season_text
        )
        out["short"] = (
            f"{WEEKDAYS[day]} {h0:02d}:00–{(h0 + length) % 24:02d}:00 "
            f"({int(score)} of {int(timed.sum())} timed incidents)"
        )
    else:
        why = (
            "times of day are unknown (police.uk is dated to the month only)"
            if (prec == "month").any()
            else f"too few incidents with a time of day ({int(timed.sum())}) to find a peak"
        )
        out["text"] = (
            why[0].upper()
            + why[1:]
            + (f"; {month_text}" if month_text else "")
            + season_text
            + (
                f". Go at your preferred times: {out['preferred']}"
                if out["preferred"]
                else ". Choose the time from local knowledge"
            )
            + "."
        )
        short_months = ", ".join(_month_label(m) for m in busiest)
        out["short"] = (
            (f"Too few timed incidents ({int(timed.sum())})" if timed.any() else "Time unknown")
            + (f"; busiest {short_months}" if busiest else "")
            + (f"; peak {' and '.join(s.split(' (')[0] for s in seasons)}" if seasons else "")
            + (f"; go {out['preferred']}" if out["preferred"] else "")
        )
    return out


def _when_fitted(window: dict, slot: str) -> None:
    """The site's own slot in the fitted shifts ("Fri 18:50–19:50") in place of the
    preference the plan was asked for, in its one-line summary."""
    preferred = window.get("preferred")
    echo = f"; go {preferred}" if preferred else None
    short = window.get("short", "")
    window["short"] = (short.removesuffix(echo) if echo else short) + f"; go {slot}"


def _trend(monthly: np.ndarray) -> dict:
    if len(monthly) < 3:
        return {"z": None, "p": None, "direction": "too few months to judge"}
    _, _, z_row, p_row = _mk_rows(monthly[None, :].astype(float))
    z, p = float(z_row[0]), float(p_row[0])
    direction = "rising" if (p < 0.05 and z > 0) else "falling" if (p < 0.05) else "no clear trend"
    return {"z": round(z, 3), "p": round(p, 4), "direction": direction}
