"""Area boundaries (wards, LSOAs, MSOAs, districts, custom areas) and their populations.

Boundaries come as GeoJSON, newline-delimited GeoJSON (``.geojsonl``) or
GeoPackage, usually from the ONS Open Geography Portal. Their code and name
fields follow ONS naming (``LSOA11CD``/``LSOA11NM``, ``WD13CD``/``WD13NM``,
``LAD21CD``/``LAD21NM``, any case), which :func:`read_boundaries` detects.

Populations come as CSV (ONS mid-year estimates by area), with or without a
header row; :func:`read_population` finds the code and population columns.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError

from .. import crs as crsmod
from ..errors import InputFileError
from .text import decode_text, read_csv_strings
from .vector import file_crs, open_layer, resolve_field

KINDS = ("ward", "lsoa", "msoa", "district", "custom")
#: ONS field-name stems for each kind (``WD13CD`` -> stem ``wd``, vintage ``13``).
STEMS: dict[str, tuple[str, ...]] = {
    "ward": ("wd", "ward"),
    "lsoa": ("lsoa",),
    "msoa": ("msoa",),
    "district": ("lad", "lau", "ltla", "la", "cmlad"),
    "custom": (),
}
ONS_CODE = re.compile(r"^[EWSNK]\d{8}$")
_CODE_FIELD = re.compile(r"^(?P<stem>[a-z]+?)(?P<year>\d{2})?cd$", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_POLYGON = 3  # shapely type id


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown area kind {kind!r}; expected one of: {', '.join(KINDS)}")


def _looks_ons(values: pd.Series) -> bool:
    text = values.dropna().astype(str).str.strip()
    return len(text) > 0 and bool(text.str.fullmatch(ONS_CODE.pattern).all())


def _ons_code_fields(frame: pd.DataFrame, kind: str) -> tuple[list[str], list[str]]:
    """(fields of ONS codes for ``kind``, fields of ONS codes for other kinds)."""
    mine, other = [], []
    for col in frame.columns:
        m = _CODE_FIELD.match(str(col))
        if not m or not _looks_ons(frame[col]):
            continue
        if kind == "custom" or m["stem"].lower() in STEMS[kind]:
            mine.append(str(col))
        else:
            other.append(str(col))
    return mine, other


def _detect_fields(frame: pd.DataFrame, kind: str, name: str) -> tuple[str, str | None]:
    fields = [str(c) for c in frame.columns if c != "geometry"]
    mine, other = _ons_code_fields(frame, kind)
    if not mine:
        if other:
            raise InputFileError(
                name,
                f"expected {kind} codes (a field such as {_example(kind)}); the ONS code "
                f"field(s) {other} hold other kinds of area; pass code_field= to use one "
                "anyway, or the right kind",
            )
        raise InputFileError(
            name,
            f"no field holding ONS area codes (a field such as {_example(kind)} with values "
            f"like E01024257); fields found: {fields}; pass code_field=",
        )
    if len(mine) > 1:
        raise InputFileError(
            name, f"several fields hold {kind} codes: {mine}; pass code_field= to choose one"
        )
    code = mine[0]
    m = _CODE_FIELD.match(code)
    want = f"{m['stem']}{m['year'] or ''}nm".casefold()
    names = [c for c in fields if c.casefold() == want]
    return code, (names[0] if names else None)


def _example(kind: str) -> str:
    return {"ward": "WD13CD", "lsoa": "LSOA11CD", "msoa": "MSOA11CD", "district": "LAD21CD",
            "custom": "AREA_CD"}[kind]  # fmt: skip


def _multipolygons(geoms: np.ndarray, codes: np.ndarray, name: str) -> np.ndarray:
    """Valid MultiPolygons, one per input geometry (polygonal parts of make_valid kept)."""
    valid = shapely.make_valid(geoms)
    parts, idx = shapely.get_parts(valid, return_index=True)
    parts2, idx2 = shapely.get_parts(parts, return_index=True)  # collections nest one level
    idx = idx[idx2]
    keep = (shapely.get_type_id(parts2) == _POLYGON) & ~shapely.is_empty(parts2)
    lost = np.setdiff1d(np.arange(len(geoms)), idx[keep])
    if len(lost):
        i = int(lost[0])
        raise InputFileError(
            name,
            f"feature {i + 1} (code {codes[i]!r}) has no area left after repairing its "
            "geometry; expected a polygon",
            row=i + 1,
        )
    return shapely.multipolygons(parts2[keep], indices=idx[keep])


def read_boundaries(
    path: str | Path,
    kind: str,
    code_field: str | None = None,
    name_field: str | None = None,
    analysis_crs: str = crsmod.BNG,
    layer: str | int | None = None,
) -> gpd.GeoDataFrame:
    """Read area polygons into columns ``kind, code, name, geometry``.

    Parameters
    ----------
    path : ``.geojson``, ``.geojsonl`` (one feature per line), ``.gpkg`` or any GDAL polygon file
    kind : ``ward``, ``lsoa``, ``msoa``, ``district`` or ``custom``
    code_field, name_field : fields holding each area's code and name. When
        ``code_field`` is omitted, the field named like ``<STEM><yy>CD`` (any
        case) whose values are all ONS codes (``E01024257``) and whose stem
        suits ``kind`` (WD, LSOA, MSOA, LAD) is used, with the matching
        ``...NM`` field for names (names fall back to the codes).
    analysis_crs : projected CRS the geometries are returned in
    layer : layer name or index for multi-layer files

    Returns
    -------
    geopandas.GeoDataFrame
        One row per area (features sharing a code are merged), geometry
        repaired with ``shapely.make_valid`` and always a MultiPolygon.

    Raises
    ------
    InputFileError
        unreadable file, no CRS (GeoJSON is WGS84 by definition), no code
        field, blank codes, null or non-polygon geometry.
    """
    _check_kind(kind)
    analysis_crs = crsmod.check_crs(analysis_crs)
    name = str(path)
    layer, info = open_layer(path, layer, "polygon")
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer)
    except (DataSourceError, DataLayerError) as exc:
        raise InputFileError(name, f"cannot read the features: {exc}") from exc
    if len(gdf) == 0 or "geometry" not in gdf:
        raise InputFileError(name, "the file holds no features; expected area polygons")
    crs = file_crs(gdf.crs, info, name)
    fields = [str(c) for c in gdf.columns if c != "geometry"]
    if code_field is None:
        code_field, detected_name = _detect_fields(gdf, kind, name)
        name_field = name_field or detected_name
    else:
        code_field = resolve_field(fields, code_field, name, "area code")
    name_field = resolve_field(fields, name_field, name, "area name")

    codes = gdf[code_field].astype("string").str.strip()
    blank = codes.isna() | (codes == "")
    if blank.any():
        i = int(np.flatnonzero(blank.to_numpy())[0])
        raise InputFileError(name, f"feature {i + 1} has no area code", row=i + 1,
                             field=code_field)  # fmt: skip
    codes_arr = codes.to_numpy(dtype=object)
    names = (
        gdf[name_field].astype("string").str.strip().fillna(codes).to_numpy(dtype=object)
        if name_field
        else codes_arr
    )
    geoms = np.asarray(gdf.geometry.to_numpy(), dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise InputFileError(name, f"feature {i + 1} (code {codes_arr[i]!r}) has no geometry",
                             row=i + 1)  # fmt: skip
    types = shapely.get_type_id(geoms)
    bad = (types != _POLYGON) & (types != 6)  # Polygon, MultiPolygon
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputFileError(
            name,
            f"expected polygon areas; feature {i + 1} (code {codes_arr[i]!r}) is a "
            f"{geoms[i].geom_type}",
            row=i + 1,
        )
    projected = gpd.GeoSeries(geoms, crs=crs).to_crs(analysis_crs).to_numpy()
    polys = _multipolygons(np.asarray(projected, dtype=object), codes_arr, name)

    out = gpd.GeoDataFrame(
        {"kind": kind, "code": codes_arr, "name": names},
        geometry=gpd.GeoSeries(polys, crs=analysis_crs),
    )
    if out["code"].duplicated().any():
        merged = (
            out.groupby("code", sort=False)
            .agg(name=("name", "first"), geometry=("geometry", lambda g: shapely.union_all(g)))
            .reset_index()
        )
        geoms = np.asarray(merged["geometry"].to_numpy(), dtype=object)
        out = gpd.GeoDataFrame(
            {"kind": kind, "code": merged["code"], "name": merged["name"]},
            geometry=gpd.GeoSeries(
                _multipolygons(geoms, merged["code"].to_numpy(), name), crs=analysis_crs
            ),
        )
    for col in ("kind", "code", "name"):
        out[col] = out[col].astype(str)
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- population


def _read_table(path: Path) -> pd.DataFrame:
    """CSV as strings; a file without a header row gets ``column_1..n`` as its header."""
    name = str(path)
    if not path.is_file():
        raise InputFileError(name, "no such file; expected a population CSV")
    utf8, _ = decode_text(path.read_bytes(), name)
    first = utf8.split(b"\n", 1)[0].decode("utf-8").rstrip("\r").split(",")
    cells = [c.strip().strip('"') for c in first]
    headerless = any(ONS_CODE.match(c) for c in cells) and any(
        re.fullmatch(r"[\d,.]+", c) for c in cells
    )
    if not headerless:
        return read_csv_strings(utf8, name)
    header = ",".join(f"column_{i + 1}" for i in range(len(cells))).encode()
    frame = read_csv_strings(header + b"\n" + utf8, name)
    frame.index = frame.index - 1  # the invented header is not a line of the file
    return frame


def _pick_population(columns: list[str], year: int | None, name: str) -> str:
    pops = [c for c in columns if "pop" in c.casefold()]
    if year is not None:
        with_year = [c for c in pops if str(year) in c]
        pops = with_year or [c for c in pops if not _YEAR.search(c)]
    elif len(pops) > 1:
        dated = [(int(m.group(1)), c) for c in pops if (m := _YEAR.search(c))]
        if dated:
            pops = [max(dated)[1]]
    if len(pops) != 1:
        problem = "several" if pops else "no"
        raise InputFileError(
            name,
            f"{problem} population column(s) found{f' for {year}' if year else ''}: "
            f"{pops or columns}; pass population_column=",
            row=1,
        )
    return pops[0]


def _pick_code(frame: pd.DataFrame, kind: str, pop_col: str, year: int, name: str) -> str:
    columns = [str(c) for c in frame.columns]
    if kind == "custom":
        cands = [c for c in columns if _CODE_FIELD.match(c) or "code" in c.casefold()]
    else:
        cands = [c for c in columns
                 if (m := _CODE_FIELD.match(c)) and m["stem"].lower() in STEMS[kind]]  # fmt: skip
        cands = cands or [c for c in columns if _looks_ons(frame[c])]
    if len(cands) > 1:
        # The population column may name its vintage ("pop_mid2022_lsoa21" -> LSOA21CD).
        named = [c for c in cands if (m := _CODE_FIELD.match(c)) and m["year"]
                 and f"{m['stem']}{m['year']}".lower() in pop_col.lower()]  # fmt: skip
        vintage = {c: 2000 + int(m["year"]) for c in cands
                   if (m := _CODE_FIELD.match(c)) and m["year"]}  # fmt: skip
        usable = [c for c in vintage if vintage[c] <= year]
        if named:
            cands = named[:1]
        elif usable:
            cands = [max(usable, key=vintage.get)]
    if len(cands) != 1:
        raise InputFileError(
            name,
            f"cannot tell which column holds the {kind} codes (found {cands or columns}); "
            "pass code_column=",
            row=1,
        )
    return cands[0]


def read_population(
    path: str | Path,
    kind: str = "lsoa",
    code_column: str | None = None,
    population_column: str | None = None,
    year: int | None = None,
) -> pd.DataFrame:
    """Read area populations from a CSV into columns ``kind, area_code, year, population``.

    Parameters
    ----------
    path : CSV with a header row, or without one (``E01011950,1257`` rows:
        the code column is the one holding ONS codes, the population the other)
    kind : ``ward``, ``lsoa``, ``msoa``, ``district`` or ``custom``
    code_column : column of area codes; default: a ``<STEM><yy>CD`` column for
        ``kind`` (choosing the vintage named in the population column, else the
        latest one not after ``year``), else the column of ONS codes
    population_column : default: the column whose name contains ``pop`` (with
        ``year`` in its name when ``year`` is given; else the latest year)
    year : the estimate's year; default: a year in the population column's
        name, else in the file name (``..._mid2019_...``)

    Returns
    -------
    pandas.DataFrame
        One row per area, ``population`` as float. Rows repeating a code with
        the same population (e.g. a 2011 LSOA listed against each of its
        2021 successors) are kept once.

    Raises
    ------
    InputFileError
        a population that is blank, not a number or negative (naming the row
        and column), a blank or malformed area code, the same code with two
        populations, or columns that cannot be found.
    """
    _check_kind(kind)
    path = Path(path)
    name = str(path)
    frame = _read_table(path)
    columns = [str(c) for c in frame.columns]
    headerless = columns[0] == "column_1"
    if headerless and len(columns) >= 2 and code_column is None and population_column is None:
        code_column = next((c for c in columns if _looks_ons(frame[c])), columns[0])
        population_column = next(c for c in columns if c != code_column)
    if population_column is None:
        population_column = _pick_population(columns, year, name)
    else:
        population_column = resolve_field(columns, population_column, name, "population")
    if year is None:
        found = _YEAR.search(population_column) or _YEAR.search(path.stem)
        if not found:
            raise InputFileError(name, "cannot tell which year the populations are for; pass year=")
        year = int(found.group(1))
    if code_column is None:
        code_column = _pick_code(frame, kind, population_column, year, name)
    else:
        code_column = resolve_field(columns, code_column, name, "area code")

    codes = frame[code_column].astype("string").str.strip()
    bad_code = codes.isna() | (codes == "")
    if kind != "custom":
        bad_code |= ~codes.fillna("").str.fullmatch(ONS_CODE.pattern)
    if bad_code.any():
        line = int(frame.index[np.flatnonzero(bad_code.to_numpy())[0]])
        got = codes.loc[line]
        raise InputFileError(
            name,
            f"expected an ONS area code such as E01024257, got {'' if pd.isna(got) else got!r}",
            row=line,
            field=code_column,
        )
    raw = frame[population_column].astype("string").str.strip()
    numbers = pd.to_numeric(raw.str.replace(",", "", regex=False), errors="coerce")
    numbers = numbers.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(numbers) | (numbers < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        got = raw.iloc[i]
        raise InputFileError(
            name,
            "expected a population (a number, 0 or more), got "
            f"{'a blank' if pd.isna(got) else repr(got)}",
            row=int(frame.index[i]),
            field=population_column,
        )
    out = pd.DataFrame(
        {
            "kind": kind,
            "area_code": codes.astype(str).to_numpy(dtype=object),
            "year": np.full(len(frame), year, dtype=np.int64),
            "population": numbers,
        }
    )
    out["line"] = frame.index.to_numpy()
    out = out.drop_duplicates(["area_code", "population"])
    clash = out["area_code"].duplicated(keep=False)
    if clash.any():
        rows = out[clash]
        code = rows["area_code"].iat[0]
        lines = rows.loc[rows["area_code"] == code, "line"].tolist()
        raise InputFileError(
            name,
            f"area {code} has different populations on rows {lines}",
            row=int(lines[1]),
            field=population_column,
        )
    return out.drop(columns="line").reset_index(drop=True)


__all__ = ["KINDS", "read_boundaries", "read_population"]
