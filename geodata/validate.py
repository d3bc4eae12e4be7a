"""Validation: every row is accepted or quarantined with a reason.

:func:`validate` turns :class:`~geodata.records.RawRecords` into one or more
:class:`ValidatedBatch` objects, each holding the incidents to store, the
rejected rows (with file, line, field, reason and the row's raw text) and an
:class:`~geodata.model.BatchReport`. It is vectorised: no Python loop runs per
row except to render the raw text of rejected rows.

Rules, in order (a row is rejected for the first that applies):

``missing-date`` / ``invalid-date``
    no date, a date that cannot be read (police.uk: ``YYYY-MM``; councils: UK
    day-first dates, optional time), or one more than a day in the future.
``no-coordinates`` / ``invalid-coordinates``
    blank (or 0,0) coordinates; text that is not a number.
``outside-study-area`` / ``outside-uk``
    outside the configured study area; when none is set, outside the UK.
``duplicate-reference``
    a reference already seen earlier in the same batch. Rows without a
    reference (police.uk ASB has no Crime ID, and many rows legitimately share
    one snap point) are never de-duplicated.

Warnings (the row is kept): an unrecognised category is stored as ``other``
with the raw value named; swapped latitude/longitude columns are corrected;
police.uk rows geocoded far outside the force's area are flagged
``outside-force-area``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from shapely.geometry.base import BaseGeometry

from . import crs as crsmod
from .errors import InputFileError
from .model import INCIDENT_SCHEMA, QUARANTINE_SCHEMA, REASONS, BatchInfo, BatchReport
from .readers.text import raw_text
from .records import RawRecords
from .taxonomy import DEFAULT_SENSITIVE, map_categories

#: Parser version: part of every batch's content hash, so a change of rules re-imports.
RULES_VERSION = "2"
#: flag of rows at a recording place (e.g. "On or near Police Station")
ARTEFACT_FLAG = "artefact-place"

DAYFIRST_FORMATS = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%d/%m/%y %H:%M",
    "%d/%m/%y",
    "%d %b %Y",
    "%d %B %Y",
)
EXAMPLES_PER_REASON = 3


@dataclass
class ValidationContext:
    """What validation needs beyond the rows themselves."""

    analysis_crs: str = crsmod.BNG
    #: study area polygon in the analysis CRS; ``None`` = the whole UK
    study_area: BaseGeometry | None = None
    study_area_name: str | None = None
    sensitive: frozenset[str] = DEFAULT_SENSITIVE
    #: distance beyond which a rare-district police.uk row is flagged
    outlier_distance_m: float = 10_000.0
    #: location texts of recording places (police.uk puts crimes recorded at a station on
    #: the station's snap point): rows there are flagged ``artefact-place``
    artefact_places: frozenset[str] = frozenset({"on or near police station"})
    #: boundaries for point-in-polygon coding: kind -> (codes, polygons in analysis CRS)
    areas: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    now: datetime | None = None

    def fingerprint(self) -> str:
        parts = [
            RULES_VERSION,
            self.analysis_crs,
            ",".join(sorted(self.sensitive)),
            str(self.outlier_distance_m),
            ",".join(sorted(self.artefact_places)),
            shapely.to_wkb(self.study_area, hex=True) if self.study_area is not None else "",
        ]
        for kind in sorted(self.areas):
            codes, polys = self.areas[kind]
            parts.append(kind + ":" + ",".join(map(str, codes)))
            parts.append(str(shapely.area(polys).sum().round(3)) if len(polys) else "")
        return "|".join(parts)


@dataclass
class ValidatedBatch:
    info: BatchInfo
    incidents: pa.Table
    quarantine: pa.Table
    report: BatchReport


# --------------------------------------------------------------------------- dates


def _parse_month(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    parsed = pd.to_datetime(values, format="%Y-%m", errors="coerce")
    return parsed.to_numpy(dtype="datetime64[us]"), np.zeros(len(values), bool)


def _parse_dayfirst(
    values: pd.Series, times: pd.Series | None, fmt: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """Parse UK dates trying each known format on what is still unparsed.

    Returns the timestamps and a mask of rows whose time of day is known.
    """
    text = values.astype("string").str.strip()
    has_time_col = times is not None
    if has_time_col:
        t = times.astype("string").str.strip().fillna("")
        t = t.where(t != "", None)
        text = (text + " " + t).where(t.notna(), text)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    timed = np.zeros(len(values), bool)
    formats = (fmt,) if fmt else DAYFIRST_FORMATS
    todo = text.notna().to_numpy().copy()  # writable (pandas copy-on-write)
    for f in formats:
        if not todo.any():
            break
        parsed = pd.to_datetime(text[todo], format=f, errors="coerce")
        ok = parsed.notna().to_numpy()
        if not ok.any():
            continue
        idx = np.flatnonzero(todo)[ok]
        out.iloc[idx] = parsed[ok].to_numpy(dtype="datetime64[us]")
        if "%H" in f:
            timed[idx] = True
        todo[idx] = False
    stamps = out.to_numpy(dtype="datetime64[us]")
    # A column of midnights only (Excel date cells) carries no time of day.
    if timed.any():
        tod = stamps[timed] - stamps[timed].astype("datetime64[D]")
        if (tod == np.timedelta64(0, "us")).all():
            timed[:] = False
    return stamps, timed


# --------------------------------------------------------------------------- coordinates


def _coords(records: RawRecords, analysis_crs: str, warnings: list[dict]) -> dict[str, np.ndarray]:
    """Parse coordinates; return lon, lat, x, y (NaN where missing) and row masks."""
    frame, fm = records.frame, records.fields
    a_text = frame[fm.x].astype("string").str.strip() if fm.x else None
    b_text = frame[fm.y].astype("string").str.strip() if fm.y else None
    n = len(frame)
    if a_text is None or b_text is None:
        blank = np.ones(n, bool)
        a = b = np.full(n, np.nan)
    else:
        a = pd.to_numeric(a_text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        b = pd.to_numeric(b_text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        a_blank = a_text.isna().to_numpy() | (a_text == "").fillna(False).to_numpy()
        b_blank = b_text.isna().to_numpy() | (b_text == "").fillna(False).to_numpy()
        zero = (a == 0) & (b == 0)
        blank = (a_blank & b_blank) | zero
    invalid = ~blank & ~(np.isfinite(a) & np.isfinite(b))
    usable = ~blank & ~invalid
    bad_field = np.where(np.isfinite(a) | blank, fm.y or "", fm.x or "")

    declared = records.coords
    kind = crsmod.detect_pair_kind(a[usable], b[usable])
    if usable.any():
        if declared == "auto":
            if kind == "unknown":
                raise InputFileError(
                    records.file,
                    f"cannot tell what the coordinates in {fm.x!r}/{fm.y!r} are: expected "
                    "WGS84 longitude/latitude or British National Grid easting/northing in the UK; "
                    f"found values such as {a[usable][0]!r}, {b[usable][0]!r}",
                    field=fm.x,
                )
            source_kind = kind
        elif declared in ("lonlat", crsmod.WGS84):
            if kind == "bng":
                row = int(records.frame.index[np.flatnonzero(usable)[0]])
                raise InputFileError(
                    records.file,
                    f"coordinates were declared WGS84 longitude/latitude but hold British "
                    f"National Grid metres (e.g. {a[usable][0]:.0f}, {b[usable][0]:.0f}); "
                    "declare crs = 'EPSG:27700' for this source",
                    row=row,
                    field=fm.x,
                )
            source_kind = "latlon" if kind == "latlon" else "lonlat"
        elif declared in ("bng", crsmod.BNG):
            if kind in ("lonlat", "latlon"):
                row = int(records.frame.index[np.flatnonzero(usable)[0]])
                raise InputFileError(
                    records.file,
                    "coordinates were declared British National Grid but hold degrees "
                    f"(e.g. {a[usable][0]}, {b[usable][0]}); declare crs = 'EPSG:4326'",
                    row=row,
                    field=fm.x,
                )
            source_kind = "bng"
        else:
            source_kind = declared  # another CRS, trusted as declared
    else:
        source_kind = "lonlat"

    if source_kind == "latlon":
        a, b = b, a
        warnings.append(
            {
                "kind": "swapped-coordinates",
                "message": f"columns {fm.x!r} and {fm.y!r} hold latitude and longitude the "
                "other way round; they were swapped",
                "count": int(usable.sum()),
            }
        )
        source_kind = "lonlat"

    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    if usable.any():
        if source_kind == "lonlat":
            lon[usable], lat[usable] = a[usable], b[usable]
            x[usable], y[usable] = crsmod.lonlat_to_xy(a[usable], b[usable], analysis_crs)
        else:
            src = crsmod.BNG if source_kind == "bng" else source_kind
            lon[usable], lat[usable] = crsmod.xy_to_lonlat(a[usable], b[usable], src)
            if src == analysis_crs:
                x[usable], y[usable] = a[usable], b[usable]
            else:
                x[usable], y[usable] = crsmod.lonlat_to_xy(lon[usable], lat[usable], analysis_crs)
    return {
        "lon": lon,
        "lat": lat,
        "x": x,
        "y": y,
        "blank": blank,
        "invalid": invalid,
        "bad_field": bad_field,
    }


# --------------------------------------------------------------------------- areas


def assign_area(x: np.ndarray, y: np.ndarray, codes: np.ndarray, polys: np.ndarray) -> np.ndarray:
    """Code of the polygon containing each point (``None`` outside all), via an STR-tree."""
    out = np.full(len(x), None, dtype=object)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any() or len(polys) == 0:
        return out
    tree = shapely.STRtree(polys)
    pts = shapely.points(x[ok], y[ok])
    hit_pt, hit_poly = tree.query(pts, predicate="intersects")
    first = np.unique(hit_pt, return_index=True)[1]
    target = np.flatnonzero(ok)[hit_pt[first]]
    out[target] = codes[hit_poly[first]]
    return out


def _far_outliers(
    frame: pd.DataFrame, lsoa_name_col: str | None, x: np.ndarray, y: np.ndarray, dist_m: float
) -> np.ndarray:
    """police.uk rows in a district that is rare in the batch *and* far from the rest.

    The district is the LSOA name without its last word ("Brighton and Hove
    027E" → "Brighton and Hove"). Districts holding under 0.5 % of the rows are
    rare; their rows are flagged when more than ``dist_m`` from every row of a
    common district. Neighbouring districts (a row just over the border) stay
    unflagged.
    """
    n = len(frame)
    flags = np.zeros(n, bool)
    if not lsoa_name_col or lsoa_name_col not in frame or n < 200:
        return flags
    names = frame[lsoa_name_col]
    district = names.map({v: str(v).rsplit(" ", 1)[0] for v in pd.unique(names.dropna())})
    share = district.map(district.value_counts(normalize=True)).fillna(0).to_numpy()
    ok = np.isfinite(x) & np.isfinite(y)
    common = ok & (share >= 0.005)
    rare = ok & ~common & district.notna().to_numpy()
    if not rare.any() or not common.any():
        return flags
    from scipy.spatial import cKDTree  # on first use: opening a store needs no SciPy

    pts = np.column_stack([x[common], y[common]])
    dist, _ = cKDTree(pts).query(np.column_stack([x[rare], y[rare]]))
    flags[np.flatnonzero(rare)[dist > dist_m]] = True
    return flags


# --------------------------------------------------------------------------- main


def _period_of(stamps: np.ndarray) -> str:
    months = pd.DatetimeIndex(stamps[~np.isnat(stamps)]).to_period("M")
    if len(months) == 0:
        return "undated"
    lo, hi = months.min(), months.max()
    return str(lo) if lo == hi else f"{lo}..{hi}"


def validate(records: RawRecords, ctx: ValidationContext) -> list[ValidatedBatch]:
    """Validate one file's rows; return one batch (police.uk: one per month)."""
    frame, fm = records.frame, records.fields
    n = len(frame)
    warnings: list[dict] = []
    reason = np.full(n, None, dtype=object)
    rfield = np.full(n, None, dtype=object)
    detail = np.full(n, None, dtype=object)

    def reject(mask: np.ndarray, why: str, fld, text) -> None:
        """Mark rows not yet rejected; ``text`` is a string or a function of row indices."""
        sel = mask & (reason == None)  # noqa: E711 - elementwise on object array
        if not sel.any():
            return
        idx = np.flatnonzero(sel)
        reason[idx] = why
        rfield[idx] = fld if isinstance(fld, str) or fld is None else fld[idx]
        detail[idx] = text if isinstance(text, str) or text is None else text(idx)

    # Dates
    if fm.date is None:
        raise InputFileError(records.file, "no date column is mapped; every incident needs a date")
    date_text = frame[fm.date].astype("string").str.strip()
    if records.date_style == "month":
        stamps, timed = _parse_month(date_text)
        expected = "YYYY-MM"
    else:
        stamps, timed = _parse_dayfirst(
            date_text, frame[fm.time] if fm.time else None, records.date_format
        )
        expected = records.date_format or "a UK day-first date such as 31/01/2024 14:05"
    date_missing = date_text.isna().to_numpy() | (date_text == "").fillna(False).to_numpy()
    reject(date_missing, "missing-date", fm.date, "no date given")
    bad_date = np.isnat(stamps) & ~date_missing
    reject(
        bad_date,
        "invalid-date",
        fm.date,
        lambda idx: [f"expected {expected}, got {date_text.iat[i]!r}" for i in idx],
    )
    now = ctx.now or datetime.now()
    future = ~np.isnat(stamps) & (stamps > np.datetime64(now + timedelta(days=1), "us"))
    if future.any():
        reject(
            future,
            "invalid-date",
            fm.date,
            lambda idx: [f"date {date_text.iat[i]!r} is in the future" for i in idx],
        )

    # Coordinates
    c = _coords(records, ctx.analysis_crs, warnings)
    reject(c["blank"], "no-coordinates", fm.x, "no coordinates given")
    if c["invalid"].any():
        a_vals = frame[fm.x].astype("string").fillna("").to_numpy(dtype=object)
        b_vals = frame[fm.y].astype("string").fillna("").to_numpy(dtype=object)
        reject(
            c["invalid"],
            "invalid-coordinates",
            c["bad_field"],
            lambda idx: [f"expected numbers, got {a_vals[i]!r}, {b_vals[i]!r}" for i in idx],
        )
    located = ~c["blank"] & ~c["invalid"]
    if ctx.study_area is not None:
        inside = shapely.contains_xy(ctx.study_area, c["x"], c["y"])
        name = ctx.study_area_name or "the study area"
        reject(located & ~inside, "outside-study-area", fm.x, f"outside {name}")
    else:
        inside = crsmod.inside_uk(c["lon"], c["lat"])
        lon, lat = c["lon"], c["lat"]
        reject(
            located & ~inside,
            "outside-uk",
            fm.x,
            lambda idx: [f"lon {lon[i]:.5f}, lat {lat[i]:.5f} is outside the UK" for i in idx],
        )

    # Categories
    if records.fixed_category:
        slugs = np.full(n, records.fixed_category, dtype=object)
        cat_raw = np.full(n, records.fixed_category, dtype=object)  # type: ignore[assignment]
        unknown: dict[str, int] = {}
    elif fm.category:
        cat_series = frame[fm.category].astype("string").str.strip()
        cat_missing = cat_series.isna().to_numpy() | (cat_series == "").fillna(False).to_numpy()
        reject(cat_missing, "missing-category", fm.category, "no category given")
        slugs, unknown = map_categories(cat_series[~cat_missing], records.category_map)
        full = np.full(n, None, dtype=object)
        full[~cat_missing] = slugs
        slugs = full
        cat_raw = fm.category
    else:
        raise InputFileError(
            records.file, "no category column is mapped and no fixed category is set"
        )

    if fm.source_ref:
        refs = pc.utf8_trim_whitespace(pa.array(frame[fm.source_ref], pa.string()))
        refs = pc.if_else(pc.equal(refs, ""), pa.scalar(None, pa.string()), refs)
    else:
        refs = pa.nulls(n, pa.string())

    # Split into batches (police.uk: by month) before the duplicate check.
    month_key = (
        np.datetime_as_string(stamps.astype("datetime64[M]")).astype(object)
        if records.batch_by_month
        else np.full(n, "", dtype=object)
    )
    undated = month_key == "NaT"
    if records.batch_by_month and undated.any():
        # Undated rows stay with the file's main month so they are quarantined, not lost.
        main = pd.Series(month_key[~undated]).mode()
        month_key[undated] = main.iat[0] if len(main) else "undated"

    far = (
        _far_outliers(frame, fm.attributes.get("lsoa_name"), c["x"], c["y"], ctx.outlier_distance_m)
        if records.flag_far_outliers
        else np.zeros(n, bool)
    )
    ward = (
        assign_area(c["x"], c["y"], *ctx.areas["ward"])
        if "ward" in ctx.areas
        else (fm.ward_code or np.full(n, None, dtype=object))
    )
    lsoa = (
        fm.lsoa_code
        if fm.lsoa_code
        else (
            assign_area(c["x"], c["y"], *ctx.areas["lsoa"])
            if "lsoa" in ctx.areas
            else np.full(n, None, dtype=object)
        )
    )
    attrs = _attributes(frame, fm.attributes)

    out = []
    for key in sorted(set(month_key)):
        sel = month_key == key
        period = records.period or (key if records.batch_by_month else _period_of(stamps[sel]))
        out.append(
            _build_batch(
                records,
                ctx,
                sel,
                period,
                stamps,
                timed,
                c,
                slugs,
                cat_raw,
                refs,
                reason,
                rfield,
                detail,
                far,
                ward,
                lsoa,
                attrs,
                warnings,
                unknown,
            )
        )
    return out


def _attributes(frame: pd.DataFrame, mapping: dict[str, str]) -> pa.Array:
    """JSON object text per row of the mapped attribute columns (missing values left out).

    Vectorised: each distinct value is JSON-encoded once, then the members are
    joined column-wise with Arrow's string kernels.
    """
    n = len(frame)
    members = []
    for key, col in mapping.items():
        if col not in frame:
            continue
        # combine: a big file's column arrives as a ChunkedArray (no .dictionary)
        encoded = pa.chunked_array([pa.array(frame[col], pa.string())]).combine_chunks()
        encoded = encoded.dictionary_encode()
        words = [
            None
            if v is None or v == ""
            else f"{json.dumps(key)}: {json.dumps(v, ensure_ascii=False)}"
            for v in encoded.dictionary.to_pylist()
        ]
        members.append(pa.array(words, pa.string()).take(encoded.indices))
    if not members:
        return pa.array(np.full(n, "{}", dtype=object), pa.string())
    body = pc.binary_join_element_wise(*members, ", ", null_handling="skip")
    return pc.binary_join_element_wise("{", body, "}", "")


def _take(frame: pd.DataFrame, column: str | np.ndarray | None, idx: pa.Array) -> pa.Array:
    """Rows ``idx`` of a frame column (by name), of an object array, or nulls."""
    if column is None:
        return pa.nulls(len(idx), pa.string())
    if isinstance(column, str):
        return pa.array(frame[column], pa.string()).take(idx)
    return pa.array(column[idx.to_numpy()], pa.string())


def _build_batch(
    records,
    ctx,
    sel,
    period,
    stamps,
    timed,
    c,
    slugs,
    cat_raw,
    refs,
    reason,
    rfield,
    detail,
    far,
    ward,
    lsoa,
    attrs,
    warnings,
    unknown,
) -> ValidatedBatch:
    frame = records.frame
    batch_id = f"{records.source}/{period}"
    reason = reason.copy()
    rfield = rfield.copy()
    detail = detail.copy()
    lines = frame.index.to_numpy()

    # Duplicate references within this batch (rows without a reference never count).
    has_ref = sel & (reason == None) & refs.is_valid().to_numpy(zero_copy_only=False)  # noqa: E711
    if has_ref.any():
        idx = np.flatnonzero(has_ref)
        ref_series = pd.Series(refs.take(pa.array(idx)).to_pandas().to_numpy(), index=idx)
        dup = ref_series.duplicated(keep="first")
        if dup.any():
            first_line = dict(
                zip(ref_series[~dup].to_numpy(), lines[ref_series[~dup].index.to_numpy()])
            )
            for i, ref in ref_series[dup].items():
                reason[i] = "duplicate-reference"
                rfield[i] = records.fields.source_ref
                detail[i] = f"reference {ref!r} already on row {first_line[ref]}"

    rejected = sel & (reason != None)  # noqa: E711
    accepted = sel & (reason == None)  # noqa: E711
    acc = np.flatnonzero(accepted)
    rej = np.flatnonzero(rejected)
    acc_arr = pa.array(acc)

    flags = np.where(far[acc], "outside-force-area", "").astype(object)
    if records.fields.location and records.fields.location in frame and ctx.artefact_places:
        where = frame[records.fields.location].to_numpy(dtype=object)[acc]
        at = pd.Series(where).fillna("").str.strip().str.lower().isin(ctx.artefact_places)
        at = at.to_numpy()
        flags[at] = np.where(flags[at] == "", ARTEFACT_FLAG, flags[at] + "," + ARTEFACT_FLAG)
    precision = (
        np.full(len(acc), "month", dtype=object)
        if records.date_style == "month"
        else np.where(timed[acc], "minute", "day").astype(object)
    )
    incidents = pa.table(
        {
            "id": pc.binary_join_element_wise(
                batch_id + "#", pa.array(lines[acc].astype(np.int64)).cast(pa.string()), ""
            ),
            "batch_id": pa.array(np.full(len(acc), batch_id, dtype=object), pa.string()),
            "source": pa.array(np.full(len(acc), records.source, dtype=object), pa.string()),
            "source_ref": refs.take(acc_arr),
            "category": pa.array(slugs[acc], pa.string()),
            "category_raw": _take(frame, cat_raw, acc_arr),
            "occurred_at": pa.array(stamps[acc], pa.timestamp("us")),
            "occurred_precision": pa.array(precision, pa.string()),
            "lon": pa.array(c["lon"][acc]),
            "lat": pa.array(c["lat"][acc]),
            "x": pa.array(c["x"][acc]),
            "y": pa.array(c["y"][acc]),
            "location": _take(frame, records.fields.location, acc_arr),
            "lsoa_code": _take(frame, lsoa, acc_arr),
            "ward_code": _take(frame, ward, acc_arr),
            "sensitive": pa.array(np.isin(slugs[acc].astype(str), list(ctx.sensitive))),
            "flags": pa.array(flags.astype(object), pa.string()),
            "attributes": attrs.take(acc_arr),
            "source_row": pa.array(lines[acc].astype(np.int64)),
        },
        schema=INCIDENT_SCHEMA,
    )
    raws = raw_text(frame, frame.index[rej]) if len(rej) else []
    quarantine = pa.table(
        {
            "batch_id": pa.array([batch_id] * len(rej), pa.string()),
            "source": pa.array([records.source] * len(rej), pa.string()),
            "file": pa.array([records.file] * len(rej), pa.string()),
            "row_number": pa.array(lines[rej].astype(np.int64)),
            "reason": pa.array(reason[rej], pa.string()),
            "field": pa.array(rfield[rej], pa.string()),
            "detail": pa.array(detail[rej], pa.string()),
            "raw": pa.array(raws, pa.string()),
        },
        schema=QUARANTINE_SCHEMA,
    )

    by_reason = pd.Series(reason[rej]).value_counts().to_dict() if len(rej) else {}
    examples: dict[str, list[dict]] = {}
    for i, j in enumerate(rej):
        lst = examples.setdefault(reason[j], [])
        if len(lst) < EXAMPLES_PER_REASON:
            lst.append(
                {"row": int(lines[j]), "field": rfield[j], "detail": detail[j], "raw": raws[i]}
            )
    batch_warnings = list(warnings)
    for value, count in unknown.items():
        batch_warnings.append(
            {
                "kind": "unknown-category",
                "message": f"category {value!r} is not in the taxonomy; stored as 'other'",
                "count": count,
            }
        )
    n_far = int(far[acc].sum())
    if n_far:
        examples_far = [
            str(frame[records.fields.attributes["lsoa_name"]].iloc[i]) for i in acc[far[acc]][:5]
        ]
        batch_warnings.append(
            {
                "kind": "outside-force-area",
                "message": f"{n_far} row(s) geocoded far outside the force's "
                f"area (e.g. {', '.join(examples_far)}); kept and flagged",
                "count": n_far,
            }
        )
    cats = pd.Series(slugs[acc]).value_counts().to_dict() if len(acc) else {}
    content = records.content_hash(frame.iloc[np.flatnonzero(sel)])
    import hashlib

    content_hash = hashlib.sha256((content + "|" + ctx.fingerprint()).encode()).hexdigest()
    info = BatchInfo(
        batch_id=batch_id,
        source=records.source,
        period=period,
        content_hash=content_hash,
        files=[records.file],
        rows_read=int(sel.sum()),
        rows_accepted=len(acc),
        rows_rejected=len(rej),
        crs=ctx.analysis_crs,
    )
    report = BatchReport(
        batch_id=batch_id,
        source=records.source,
        period=period,
        files=[records.file],
        status="checked",
        rows_read=int(sel.sum()),
        rows_accepted=len(acc),
        rows_rejected=len(rej),
        rejected_by_reason={str(k): int(v) for k, v in by_reason.items()},
        examples=examples,
        warnings=batch_warnings,
        categories={str(k): int(v) for k, v in cats.items()},
    )
    return ValidatedBatch(info, incidents, quarantine, report)


__all__ = ["REASONS", "ValidatedBatch", "ValidationContext", "assign_area", "validate"]
