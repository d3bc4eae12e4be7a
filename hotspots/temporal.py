"""When problems happen at a hotspot: monthly series, year-on-year change, hour × weekday, seasons.

police.uk data is dated to the month only, so for it there is no time of day
and no day of week: profiles say so (``hour_weekday`` is ``None`` with a
note) rather than invent times. Council and fire-service data usually have
minutes, and then the hour-of-day × day-of-week matrix is filled.

Seasonal flags test whether a hotspot's share of incidents in a season is
higher than the season's share of the months observed (one-sided binomial
test, p < 0.05): ``summer`` (May–August, when the strategy says ASB rises)
and ``halloween_bonfire`` (24 October – 7 November for dated incidents; for
month-only data October and November as a whole, which the flag says).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from scipy.stats import binomtest

SUMMER_MONTHS = (5, 6, 7, 8)
FESTIVE_WINDOW = ((10, 24), (11, 7))  # (month, day) inclusive: Halloween to Bonfire Night
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class SeasonFlag:
    flag: bool
    observed_share: float | None
    expected_share: float | None
    p_value: float | None
    note: str


@dataclass
class TemporalProfile:
    monthly: dict[str, int]
    year_on_year: dict | None
    hour_weekday: list[list[int]] | None
    hour_weekday_note: str
    summer: SeasonFlag
    halloween_bonfire: SeasonFlag

    def to_dict(self) -> dict:
        return asdict(self)


def month_or_day(text: str, *, end: bool) -> datetime | None:
    """``YYYY-MM`` or ``YYYY-MM-DD`` as a datetime; ``None`` if the text is neither.

    A start is the first instant of that month or day; an end is inclusive, so it
    is returned as the first instant after it (the month or day that follows).

    Examples
    --------
    >>> month_or_day("2022-12", end=True)
    datetime.datetime(2023, 1, 1, 0, 0)
    >>> month_or_day("2022-03-31", end=True)
    datetime.datetime(2022, 4, 1, 0, 0)
    >>> month_or_day("March", end=False) is None
    True
    """
    for fmt in ("%Y-%m", "%Y-%m-%d"):
        try:
            when = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if not end:
            return when
        if fmt == "%Y-%m-%d":
            return when + timedelta(days=1)
        return datetime(when.year + (when.month == 12), when.month % 12 + 1, 1)
    return None


def month_keys(occurred_at: pd.Series | np.ndarray) -> np.ndarray:
    """``YYYY-MM`` for each timestamp."""
    return np.datetime_as_string(np.asarray(occurred_at, "datetime64[us]").astype("datetime64[M]"))


def month_positions(occurred_at: pd.Series | np.ndarray, months: list[str]) -> np.ndarray:
    """Index in ``months`` (``YYYY-MM``) of each timestamp's month; -1 if not listed or NaT.

    Integer months throughout (no strings per incident).

    Examples
    --------
    >>> at = np.array(["2024-02-10", "2023-12-31", "NaT"], dtype="datetime64[us]")
    >>> month_positions(at, ["2024-01", "2024-02"]).tolist()
    [1, -1, -1]
    """
    m = np.asarray(occurred_at, "datetime64[us]").astype("datetime64[M]")
    index = {k: i for i, k in enumerate(months)}  # a month listed twice: the last wins
    out = np.full(len(m), -1, dtype=np.int64)
    nat = np.isnat(m)
    if "NaT" in index:  # month_keys gives "NaT" for a missing timestamp
        out[nat] = index.pop("NaT")
    if not index or not len(m):
        return out
    ref = np.array(list(index), dtype="datetime64[M]")
    val = np.fromiter(index.values(), dtype=np.int64, count=len(index))
    order = np.argsort(ref)
    ref, val = ref[order], val[order]
    pos = np.clip(np.searchsorted(ref, m), 0, len(ref) - 1)
    hit = (ref[pos] == m) & ~nat
    out[hit] = val[pos[hit]]
    return out


def monthly_counts(occurred_at, months: list[str], weight=None) -> np.ndarray:
    """Counts (or weight sums) per month, in the order of ``months``."""
    pos = month_positions(occurred_at, months)
    ok = pos >= 0
    w = np.ones(len(pos)) if weight is None else np.asarray(weight, float)
    return np.bincount(pos[ok], weights=w[ok], minlength=len(months))


def _season(flag_mask: np.ndarray, n: int, expected: float, note: str) -> SeasonFlag:
    if n == 0 or not 0 < expected < 1:
        return SeasonFlag(False, None, None, None, note + " (not testable in this window)")
    k = int(flag_mask.sum())
    p = float(binomtest(k, n, expected, alternative="greater").pvalue)
    return SeasonFlag(p < 0.05, k / n, expected, p, note)


def temporal_profile(
    occurred_at: pd.Series,
    precision: pd.Series,
    months_observed: list[str],
) -> TemporalProfile:
    """Profile of one hotspot's incidents over the months with data (``YYYY-MM``, sorted)."""
    stamps = pd.to_datetime(pd.Series(np.asarray(occurred_at, "datetime64[us]")))
    counts = monthly_counts(stamps, months_observed)
    monthly = {m: int(c) for m, c in zip(months_observed, counts)}

    # Year on year: the latest three months with data against the same months a year earlier.
    yoy = None
    observed = set(months_observed)
    recent = months_observed[-3:]
    earlier = [f"{int(m[:4]) - 1}{m[4:]}" for m in recent]
    if recent and all(m in observed for m in earlier):
        now, before = sum(monthly[m] for m in recent), sum(monthly[m] for m in earlier)
        yoy = {
            "months": recent,
            "previous_months": earlier,
            "count": now,
            "previous_count": before,
            "change_pct": None if before == 0 else round(100 * (now - before) / before, 1),
        }

    timed = np.asarray(precision) == "minute"
    if timed.any():
        t = stamps[timed]
        matrix = np.zeros((7, 24), int)
        np.add.at(matrix, (t.dt.day_of_week.to_numpy(), t.dt.hour.to_numpy()), 1)
        hour_weekday = matrix.tolist()
        note = (
            f"{int(timed.sum())} of {len(timed)} incidents have a time of day; "
            "rows Mon..Sun, columns hour 0..23"
        )
    else:
        hour_weekday = None
        note = (
            "times of day are unknown: police.uk data is dated to the month only"
            if (np.asarray(precision) == "month").any()
            else "no incident has a time of day"
        )

    n = len(stamps)
    month_no = stamps.dt.month.to_numpy(dtype=int) if n else np.zeros(0, int)
    obs_months = np.array([int(m[5:7]) for m in months_observed], dtype=int)
    summer = _season(
        np.isin(month_no, SUMMER_MONTHS),
        n,
        float(np.isin(obs_months, SUMMER_MONTHS).mean()) if len(obs_months) else 0,
        "May–August share against the share of observed months in May–August",
    )
    day_precise = np.asarray(precision) != "month"
    if n and day_precise.all():
        md = stamps.dt.month.to_numpy() * 100 + stamps.dt.day.to_numpy()
        in_window = (md >= 1024) & (md <= 1107)
        # expected: 15 days of the days in the observed months
        days_obs = sum(pd.Period(m).days_in_month for m in months_observed)
        window_days = sum(
            8 if m.endswith("-10") else 7 if m.endswith("-11") else 0 for m in months_observed
        )
        festive = _season(
            in_window,
            n,
            window_days / days_obs if days_obs else 0,
            "24 Oct – 7 Nov share against the window's share of observed days",
        )
    else:
        festive = _season(
            np.isin(month_no, (10, 11)),
            n,
            float(np.isin(obs_months, (10, 11)).mean()) if len(obs_months) else 0,
            "month-only dates: October–November as a whole stands in for "
            "Halloween to Bonfire Night",
        )
    return TemporalProfile(monthly, yoy, hour_weekday, note, summer, festive)
