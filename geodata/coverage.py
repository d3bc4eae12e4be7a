"""Which months are loaded, per source: what every time-based figure stands on.

A partnership's archive has gaps (police.uk months never downloaded, a council
export that stops in June). A month a source lacks is **not zero**: it is
unknown. :func:`coverage_of` derives, from the stored batches, the months each
source covers:

- a batch's declared period says what it covers: ``YYYY-MM`` (a police.uk batch
  is one force and one month), ``YYYY-MM..YYYY-MM`` (what an import records by
  default: the span of its dates), ``YYYY`` or ``YYYY-YYYY`` (whole years);
- a batch with any other period covers the calendar months from its first to its
  last record. A month with no fly-tipping inside a covered span is a real zero,
  not a gap.

:meth:`Coverage.covered` then says, for some categories and a window, which
months every source of those categories covers (used) and which it does not
(skipped, with the reason). Figures are computed on the used months only.

Examples
--------
>>> cov = Coverage(
...     months={"police": ("2022-01", "2022-02", "2022-04"), "council": ("2022-02", "2022-03")},
...     sources={"anti-social-behaviour": ("police",), "fly-tipping": ("council",)},
... )
>>> cov.covered(["anti-social-behaviour"]).months
('2022-01', '2022-02', '2022-04')
>>> cov.covered(["anti-social-behaviour"]).skipped
{'2022-03': 'not loaded from police'}
>>> cov.covered(None).months
('2022-02',)
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa

_PERIOD = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:(?:\.\.|-)(\d{4})(?:-(\d{2}))?)?$")


def declared_months(period: str) -> list[str] | None:
    """The months a declared batch period covers, or ``None`` if it is not a period.

    >>> declared_months("2022-03")
    ['2022-03']
    >>> declared_months("2024-01..2024-03")
    ['2024-01', '2024-02', '2024-03']
    >>> len(declared_months("2021-2022"))
    24
    >>> declared_months("undated") is None
    True
    """
    m = _PERIOD.match(str(period).strip())
    if not m:
        return None
    y1, m1, y2, m2 = m.groups()
    if y2 is None:
        first = f"{y1}-{m1}" if m1 else f"{y1}-01"
        last = f"{y1}-{m1}" if m1 else f"{y1}-12"
    else:
        if (m1 is None) != (m2 is None):
            return None
        first = f"{y1}-{m1 or '01'}"
        last = f"{y2}-{m2 or '12'}"
    if not ("01" <= first[5:] <= "12" and "01" <= last[5:] <= "12"):
        return None
    return month_range(first, last)


def month_range(first: str, last: str) -> list[str]:
    """Every ``YYYY-MM`` from ``first`` to ``last`` inclusive.

    >>> month_range("2022-11", "2023-02")
    ['2022-11', '2022-12', '2023-01', '2023-02']
    """
    if last < first:
        return []
    return [str(p) for p in pd.period_range(first, last, freq="M")]


def month_of(when: datetime | None) -> str | None:
    return None if when is None else f"{when.year:04d}-{when.month:02d}"


def window_months(start: datetime | None, end: datetime | None, known: Sequence[str]) -> list[str]:
    """The months a window ``[start, end)`` touches; an open end is bounded by ``known``."""
    if not known and (start is None or end is None):
        return []
    first = month_of(start) or min(known)
    if end is None:
        last = max(known)
    else:
        last_instant = pd.Timestamp(end) - pd.Timedelta(microseconds=1)
        last = f"{last_instant.year:04d}-{last_instant.month:02d}"
    return month_range(first, last)


@dataclass(frozen=True)
class Covered:
    """The months a figure stands on: ``months`` used, ``skipped`` (month → reason), the
    ``sources`` whose coverage decided them, and a sentence saying so."""

    months: tuple[str, ...]
    skipped: dict[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

    @property
    def note(self) -> str | None:
        if not self.skipped:
            return None
        gaps = _ranges(sorted(self.skipped))
        reasons = sorted(set(self.skipped.values()))
        return f"months left out (not counted as zero): {', '.join(gaps)} — " + "; ".join(reasons)

    def to_dict(self) -> dict:
        return {
            "months": list(self.months),
            "skipped": dict(self.skipped),
            "sources": list(self.sources),
            "note": self.note,
        }


def _ranges(months: Sequence[str]) -> list[str]:
    """``['2022-12', '2023-01', '2023-03']`` → ``['2022-12..2023-01', '2023-03']``."""
    out: list[list[str]] = []
    for m in months:
        if out and month_range(out[-1][-1], m)[1:2] == [m]:
            out[-1].append(m)
        else:
            out.append([m])
    return [r[0] if len(r) == 1 else f"{r[0]}..{r[-1]}" for r in out]


@dataclass(frozen=True)
class Coverage:
    """Months covered per source, and the sources each category comes from."""

    months: dict[str, tuple[str, ...]]
    sources: dict[str, tuple[str, ...]]

    def sources_of(self, categories: Iterable[str] | None) -> tuple[str, ...]:
        """The sources holding incidents of ``categories`` (every source for ``None``)."""
        if categories is None:
            return tuple(sorted(self.months))
        found = {s for c in categories for s in self.sources.get(c, ())}
        return tuple(sorted(found))

    def covered(
        self,
        categories: Iterable[str] | None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Covered:
        """The months of ``[start, end)`` that every source of ``categories`` covers.

        With an open window, the months run from the first to the last month any of
        those sources covers. A month one of them lacks is skipped, with the reason.
        """
        sources = self.sources_of(None if categories is None else list(categories))
        have = {s: set(self.months.get(s, ())) for s in sources}
        # categories no counted source holds: the months of any source bound the window
        pool = have.values() if have else [set(m) for m in self.months.values()]
        known = sorted(set().union(*pool)) if pool else []
        span = window_months(start, end, known)
        used, skipped = [], {}
        for m in span:
            missing = [s for s in sources if m not in have[s]]
            if missing:
                skipped[m] = "not loaded from " + ", ".join(missing)
            else:
                used.append(m)
        return Covered(tuple(used), skipped, sources)

    def latest(self, categories: Iterable[str] | None, n: int) -> Covered:
        """The ``n`` calendar months ending with the latest month the sources of
        ``categories`` all cover, and which of them are covered."""
        every = self.covered(categories)
        if not every.months:
            return every
        last = every.months[-1]
        first = str(pd.Period(last, freq="M") - (n - 1))
        return self.covered(
            categories,
            datetime.strptime(first, "%Y-%m"),
            (pd.Period(last, freq="M") + 1).to_timestamp().to_pydatetime(),
        )

    def to_dict(self) -> dict:
        """A month-by-source table: every month from the first to the last loaded, and
        for each source whether it is loaded."""
        every = sorted({m for ms in self.months.values() for m in ms})
        span = month_range(every[0], every[-1]) if every else []
        return {
            "months": span,
            "sources": {
                s: {
                    "months": list(ms),
                    "first": ms[0] if ms else None,
                    "last": ms[-1] if ms else None,
                }
                for s, ms in sorted(self.months.items())
            },
            "table": {s: [m in set(ms) for m in span] for s, ms in sorted(self.months.items())},
            "categories": {c: list(s) for c, s in sorted(self.sources.items())},
        }


def build_coverage(batches, incidents: pd.DataFrame | pa.Table) -> Coverage:
    """Coverage from batch records and incidents (``batch_id``, ``source``, ``category``,
    ``occurred_at``), as a DataFrame or an Arrow table (grouped in Arrow: no Python
    string per incident)."""
    cols = ["batch_id", "source", "category", "occurred_at"]
    if isinstance(incidents, pd.DataFrame):
        frame = incidents[cols].copy()
        frame["occurred_at"] = pd.to_datetime(frame["occurred_at"])
        incidents = pa.Table.from_pandas(frame, preserve_index=False)
    spans = incidents.group_by(["batch_id", "source", "category"]).aggregate(
        [("occurred_at", "min"), ("occurred_at", "max")]
    )
    renamed = spans.rename_columns({"occurred_at_min": "first", "occurred_at_max": "last"})
    return coverage_from_spans(batches, renamed)


def coverage_from_spans(batches, spans: pa.Table) -> Coverage:
    """Coverage from batch records and the incidents' spans: per ``batch_id``,
    ``source`` and ``category``, the ``first`` and ``last`` ``occurred_at``
    (:meth:`~geodata.stores.base.Store.incident_spans`)."""
    months: dict[str, set[str]] = {}
    by_batch: dict[str, tuple[str, str]] = {}
    sources: dict[str, set[str]] = {}
    for row in spans.select(["batch_id", "source", "category", "first", "last"]).to_pylist():
        sources.setdefault(str(row["category"]), set()).add(str(row["source"]))
        lo, hi = row["first"], row["last"]
        if lo is None:
            continue
        # each batch's first and last instants: their months are the span's ends
        was = by_batch.get(row["batch_id"])
        first, last = f"{lo.year:04d}-{lo.month:02d}", f"{hi.year:04d}-{hi.month:02d}"
        by_batch[row["batch_id"]] = (
            (first, last) if was is None else (min(was[0], first), max(was[1], last))
        )
    for b in batches:
        if b.batch_id not in by_batch:
            continue  # no incident of it is counted (none accepted, or all left out)
        covered = months.setdefault(b.source, set())
        declared = declared_months(b.period)
        if declared is not None:
            covered.update(declared)
        else:
            covered.update(month_range(*by_batch[b.batch_id]))
    return Coverage(
        {s: tuple(sorted(m)) for s, m in months.items()},
        {c: tuple(sorted(s)) for c, s in sources.items()},
    )


#: each store's coverage (both views), with the batch state it was worked out for
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def coverage_of(store, include_sensitive: bool = True) -> Coverage:
    """The store's coverage, kept while its batches (ids and content hashes) are unchanged.

    ``include_sensitive=False`` works it out from the incidents not flagged sensitive
    only, as roles below analyst must see it: a source holding nothing but sensitive
    incidents would otherwise show the months they fall in."""
    batches = store.list_batches()
    state = tuple(sorted((b.batch_id, b.content_hash) for b in batches))
    with _LOCK:
        hit = _CACHE.get(store, {}).get(include_sensitive)
    if hit is not None and hit[0] == state:
        return hit[1]
    cov = coverage_from_spans(batches, store.incident_spans(include_sensitive))
    with _LOCK:
        _CACHE.setdefault(store, {})[include_sensitive] = (state, cov)
    return cov


def in_months(occurred_at, months: Sequence[str]) -> np.ndarray:
    """True for the timestamps that fall in one of ``months`` (``YYYY-MM``)."""
    at = pd.to_datetime(pd.Series(occurred_at))
    key = (at.dt.year * 100 + at.dt.month).to_numpy()
    wanted = np.array([int(m[:4]) * 100 + int(m[5:7]) for m in months], dtype=np.int64)
    return np.isin(key, wanted)


def month_span(months: Sequence[str]) -> tuple[datetime, datetime]:
    """[first instant, first instant after) of some ``YYYY-MM`` months.

    >>> month_span(["2024-01", "2024-04"])
    (datetime.datetime(2024, 1, 1, 0, 0), datetime.datetime(2024, 5, 1, 0, 0))
    """
    first, last = min(months), max(months)
    y, m = int(last[:4]), int(last[5:7])
    return datetime.strptime(first, "%Y-%m"), datetime(y + (m == 12), m % 12 + 1, 1)


def months_label(months: Sequence[str]) -> str:
    """The period some months make, said for people, never a part-year called a year.

    >>> months_label(["2024-01", "2024-02", "2024-03", "2024-04"])
    'January–April 2024, 4 months'
    >>> months_label(["2022-11", "2024-01"])
    'November 2022–January 2024, 2 months, with gaps'
    """
    if not months:
        return "no months loaded"
    first = datetime.strptime(months[0], "%Y-%m")
    last = datetime.strptime(months[-1], "%Y-%m")
    if first.year == last.year:
        text = f"{first:%B}–{last:%B %Y}" if first != last else f"{first:%B %Y}"
    else:
        text = f"{first:%B %Y}–{last:%B %Y}"
    n = len(months)
    contiguous = len(month_range(months[0], months[-1])) == n
    return f"{text}, {n} month{'s' if n != 1 else ''}" + ("" if contiguous else ", with gaps")


__all__ = [
    "Coverage",
    "Covered",
    "build_coverage",
    "coverage_from_spans",
    "coverage_of",
    "in_months",
    "month_range",
    "month_span",
    "months_label",
]
