"""Figures for areas (wards, LSOAs): counts, rates per 1,000 residents and change on the
previous year, over the months loaded (gaps left out, never counted as zero), as the
caller's role may see them — what the API's areas, the OGC area collections, maps,
briefings and the command line's ``rates`` all show."""

from __future__ import annotations

import threading
import time
import weakref

import pandas as pd
import shapely

from geodata.coverage import coverage_of, in_months, month_span, months_label
from geodata.crs import WGS84
from geodata.errors import NotFound
from geodata.stores import IncidentQuery
from hotspots.rates import area_rates, lsoa_population_to_areas


class AreaTableCache:
    """:func:`area_table` results per store and request, kept while the stored batches
    are unchanged.

    GIS clients ask for the same wards and LSOAs again and again; the table costs tens
    of milliseconds (boundaries, population, an incident count and the rates). An
    entry is used again only while the store's batches (ids and content hashes) are
    the same, so an import or a deleted batch shows at once; boundaries or population
    replaced from the command line show within ``ttl_s`` seconds.
    """

    def __init__(self, ttl_s: float = 30.0, max_entries: int = 128) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._stores: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get(
        self,
        store,
        kind: str,
        categories,
        window,
        include_sensitive: bool = True,
        public: bool = False,
    ):
        key = (
            kind,
            tuple(categories) if categories else None,
            window.start,
            window.end,
            include_sensitive,
            public,
        )
        batches = tuple(sorted((b.batch_id, b.content_hash) for b in store.list_batches()))
        now = time.monotonic()
        with self._lock:
            entries = self._stores.setdefault(store, {})
            hit = entries.get(key)
        if hit is not None and hit[0] == batches and now - hit[1] < self.ttl_s:
            table, borough, areas = hit[2]
        else:
            table, borough, areas = _compute_area_table(
                store, kind, categories, window, include_sensitive, public
            )
            with self._lock:
                if len(entries) >= self.max_entries and key not in entries:
                    entries.pop(min(entries, key=lambda k: entries[k][1]))
                entries[key] = (batches, now, (table, borough, areas))
        # callers may add columns: each gets its own copy of the small tables
        return table.copy(), dict(borough), areas.copy()


AREA_TABLES = AreaTableCache()


def area_table(
    store, kind: str, categories, window, include_sensitive: bool = True, public: bool = False
) -> tuple[pd.DataFrame, dict, object]:
    """Counts, rates per 1,000 and change on the previous year for each area of ``kind``,
    the borough's figures, and the boundaries (cached: :class:`AreaTableCache`).
    ``include_sensitive=False`` leaves incidents flagged sensitive out of every count;
    ``public`` works out the months from the incidents not flagged sensitive, so the
    period shown says nothing of when sensitive incidents happened."""
    return AREA_TABLES.get(store, kind, categories, window, include_sensitive, public)


def incidents_in_months(
    store, categories, months, columns: list[str], include_sensitive: bool = True
) -> pd.DataFrame:
    """``columns`` of the incidents of ``categories`` dated in ``months`` (``YYYY-MM``)."""
    if not months:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    start, end = month_span(months)
    t = store.query_incidents(
        IncidentQuery(
            categories=categories,
            start=start,
            end=end,
            columns=[*columns, "occurred_at"],
            include_sensitive=include_sensitive,
        )
    ).to_pandas()
    return t.loc[in_months(t["occurred_at"], months), columns]


def _codes_in(store, column: str, categories, months, include_sensitive: bool) -> pd.Series:
    """The area code of every incident of ``categories`` in ``months`` (``YYYY-MM``)."""
    return incidents_in_months(store, categories, months, [column], include_sensitive)[column]


_SENSITIVE_SEEN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def sensitive_categories_stored(store) -> frozenset[str]:
    """Categories of the incidents flagged sensitive in the store (kept while the batches
    are unchanged)."""
    batches = tuple(sorted((b.batch_id, b.content_hash) for b in store.list_batches()))
    hit = _SENSITIVE_SEEN.get(store)
    if hit is not None and hit[0] == batches:
        return hit[1]
    t = store.query_incidents(IncidentQuery(columns=["category", "sensitive"]))
    flagged = t.filter(t["sensitive"].fill_null(False)).column("category").unique()
    found = frozenset(str(c) for c in flagged.to_pylist())
    _SENSITIVE_SEEN[store] = (batches, found)
    return found


def public_area_scope(store, policy, categories) -> tuple[bool, str | None]:
    """Whether the caller's area counts may include sensitive incidents (see
    :meth:`api.disclosure.Disclosure.area_scope`)."""
    if not policy.public:
        return True, None
    return policy.area_scope(categories, sensitive_categories_stored(store))


def _compute_area_table(
    store,
    kind: str,
    categories,
    window,
    include_sensitive: bool = True,
    public: bool = False,
) -> tuple[pd.DataFrame, dict, object]:
    areas = store.boundaries(kind)
    if areas.empty:
        raise NotFound(f"no {kind} boundaries are loaded")
    population = store.population("lsoa")
    if not population.empty:
        population = population[population["year"] == population["year"].max()]
        if kind == "ward":
            population = lsoa_population_to_areas(store.boundaries("lsoa"), areas, population)
        elif kind != "lsoa":
            population = population.iloc[0:0]
    no_population = population.empty
    if no_population:  # counts and change only: rates need residents
        population = pd.DataFrame({"area_code": areas["code"], "population": float("nan")})
    column = "ward_code" if kind == "ward" else "lsoa_code"
    coverage = coverage_of(store, not public)
    covered = coverage.covered(categories, window.start, window.end)
    codes = _codes_in(store, column, categories, covered.months, include_sensitive)
    table, borough = area_rates(codes, population, names=dict(zip(areas["code"], areas["name"])))
    if no_population:  # no residents known: no rate, rather than a count over zero
        blank = ("population", "rate", "rate_low", "rate_high", "ratio_to_borough")
        table[[c for c in blank if c in table]] = float("nan")
        borough.update({k: float("nan") for k in blank if k in borough})
    period = {
        **covered.to_dict(),
        "label": months_label(covered.months),
        "previous_months": None,
        "previous_note": None,
        "population_note": (
            "no LSOA population is loaded: counts and change only, no rates per 1,000 "
            "residents (load it with `hotspots import population`)"
            if no_population
            else None
        ),
    }
    earlier = [f"{int(m[:4]) - 1}{m[4:]}" for m in covered.months]
    previous = coverage.covered(categories, *month_span(earlier)) if earlier else None
    if previous is not None and set(earlier) <= set(previous.months):
        prev = _codes_in(store, column, categories, earlier, include_sensitive).value_counts()
        table["previous_year_count"] = table["area_code"].map(prev).fillna(0).astype(int)
        table["change_pct"] = [
            round(100 * (c - p) / p, 1) if p else None
            for c, p in zip(table["count"], table["previous_year_count"])
        ]
        period["previous_months"] = earlier
    else:
        table["previous_year_count"] = None
        table["change_pct"] = None
        missing = sorted(set(earlier) - set(previous.months)) if previous is not None else []
        period["previous_note"] = "no change on the previous year: " + (
            f"{len(missing)} of the same months a year earlier are not loaded"
            if missing
            else "no months are loaded"
        )
    borough["period"] = period
    return table, borough, areas


def areas_geojson(store, policy, kind: str, categories, window, simplify_deg: float = 0.0):
    """Areas of ``kind`` with their figures as the policy's role may see them, and the
    window, categories and disclosure the figures stand on."""
    with_sensitive, note = public_area_scope(store, policy, categories)
    table, borough, areas = area_table(
        store, kind, categories, window, with_sensitive, policy.public
    )
    period = borough.get("period") or {}
    geoms = areas.to_crs(WGS84).geometry
    if simplify_deg:
        geoms = geoms.simplify(simplify_deg, True)
    geoms = dict(zip(areas["code"], geoms))
    shown_borough = policy.borough(borough)
    records = table.to_dict("records")
    if policy.public:  # the exact rates' order would give suppressed counts away
        records.sort(key=lambda r: str(r["area_code"]))
    features = []
    for rec in records:
        geom = geoms.get(rec["area_code"])
        features.append(
            {
                "type": "Feature",
                "id": str(rec["area_code"]),
                "geometry": shapely.geometry.mapping(geom) if geom is not None else None,
                "properties": policy.area_props(rec, shown_borough.get("rate")),
            }
        )
    return {
        "type": "FeatureCollection",
        "features": features,
        "borough": shown_borough,
        "kind": kind,
        "categories": list(categories) if categories else None,
        "window": {
            "from": window.start.isoformat() if window.start else None,
            "to": window.end.isoformat() if window.end else None,
        },
        "period": borough.get("period"),
        "sensitive_counted": with_sensitive,
        "notes": [
            n
            for n in (
                note,
                period.get("note"),
                period.get("previous_note"),
                period.get("population_note"),
            )
            if n
        ],
        "disclosure": policy.describe(),
    }
