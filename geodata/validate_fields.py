"""The fields of raw records as :func:`geodata.validate.validate` reads them: dates
(police.uk months, UK day-first dates), coordinates (any CRS to the analysis CRS,
swapped columns, the UK's bounds) and the areas a point falls in, vectorised."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from . import crs as crsmod
from .errors import InputFileError
from .records import RawRecords

#: UK day-first date formats tried in turn on council and fire-service exports
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


# --------------------------------------------------------------------------- dates


def parse_month(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    parsed = pd.to_datetime(values, format="%Y-%m", errors="coerce")
    return parsed.to_numpy(dtype="datetime64[us]"), np.zeros(len(values), bool)


def parse_dayfirst(
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


def read_coordinates(
    records: RawRecords, analysis_crs: str, warnings: list[dict]
) -> dict[str, np.ndarray]:
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


def far_outliers(
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


__all__ = [
    "DAYFIRST_FORMATS",
    "assign_area",
    "far_outliers",
    "parse_dayfirst",
    "parse_month",
    "read_coordinates",
]
