"""Incident points from GIS files: GeoJSON, GeoPackage, Shapefile (anything GDAL reads).

Each feature is one incident. The attribute fields become text columns; the
point geometry becomes two text columns (``x`` and ``y``, in the file's own
CRS) which validation transforms like any other coordinates. Rows are indexed
by *feature number* (the first feature is 1), which is what quarantine and
error messages report for these files.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS

from ..errors import InputFileError
from ..records import FieldMap, RawRecords
from ..taxonomy import validate_slugs

#: Drivers whose files are WGS84 by definition (RFC 7946) when they declare no CRS.
GEOJSON_DRIVERS = ("GeoJSON", "GeoJSONSeq")


def open_layer(path: str | Path, layer: str | int | None, want: str) -> tuple[str | int, dict]:
    """Pick the layer to read and return it with ``pyogrio.read_info`` for it.

    ``want`` is ``"point"`` or ``"polygon"``: with several layers and no
    ``layer`` given, the single layer of that geometry kind is chosen.
    Raises :class:`InputFileError` for unreadable files or ambiguous layers.
    """
    name = str(path)
    if not Path(path).exists():
        raise InputFileError(name, "no such file")
    try:
        layers = pyogrio.list_layers(path)
    except (DataSourceError, DataLayerError) as exc:
        raise InputFileError(
            name, f"not a readable GIS file (expected GeoJSON, GeoPackage or Shapefile): {exc}"
        ) from exc
    names = [str(n) for n, _ in layers]
    if layer is None:
        if len(layers) == 1:
            layer = names[0]
        else:
            fitting = [str(n) for n, g in layers if g and want in str(g).lower()]
            if len(fitting) != 1:
                found = ", ".join(f"{n} ({g})" for n, g in layers)
                raise InputFileError(
                    name, f"the file has {len(layers)} layers; say which to read: {found}"
                )
            layer = fitting[0]
    elif isinstance(layer, str) and layer not in names:
        raise InputFileError(name, f"no layer {layer!r}; layers found: {names}")
    try:
        info = pyogrio.read_info(path, layer=layer)
    except (DataSourceError, DataLayerError) as exc:
        raise InputFileError(name, f"cannot read layer {layer!r}: {exc}") from exc
    return layer, info


def file_crs(gdf_crs: CRS | None, info: dict, name: str) -> CRS:
    """The file's CRS; GeoJSON without one is WGS84, anything else without one is refused."""
    if gdf_crs is not None:
        return CRS.from_user_input(gdf_crs)
    if info.get("driver") in GEOJSON_DRIVERS:
        return CRS.from_epsg(4326)
    raise InputFileError(
        name,
        "the file declares no coordinate reference system (a Shapefile without its .prj?); "
        "expected a file that states its CRS, e.g. EPSG:27700 or EPSG:4326",
    )


def crs_label(crs: CRS) -> str:
    """``"lonlat"`` for WGS84, else ``"EPSG:nnnn"`` (or WKT when there is no code)."""
    if crs.to_authority() == ("OGC", "CRS84"):
        return "lonlat"
    code = crs.to_epsg()
    if code == 4326:
        return "lonlat"
    return f"EPSG:{code}" if code else crs.to_wkt()


def resolve_field(columns: list[str], wanted: str | None, name: str, role: str) -> str | None:
    """The column named ``wanted`` (case and surrounding spaces ignored), or an error."""
    if wanted is None:
        return None
    if wanted in columns:
        return wanted
    fold = wanted.strip().casefold()
    hits = [c for c in columns if c.strip().casefold() == fold]
    if len(hits) != 1:
        raise InputFileError(
            name,
            f"no field {wanted!r} for the {role}; fields found: {columns}",
            field=wanted,
        )
    return hits[0]


def _text_column(values: pd.Series) -> pa.Array:
    """Any attribute column as strings: dates in ISO form, whole floats without ``.0``."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("Europe/London").dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        text = values.dt.strftime("%Y-%m-%d %H:%M:%S")
        return pa.array(text.to_numpy(dtype=object, na_value=None), pa.string())
    out = []
    for v in values.to_numpy(dtype=object):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
            out.append(None)
        elif isinstance(v, float | np.floating) and float(v).is_integer() and abs(v) < 1e15:
            out.append(str(int(v)))
        elif isinstance(v, dt.datetime):
            out.append(v.strftime("%Y-%m-%d %H:%M:%S"))
        elif isinstance(v, dt.date | dt.time):
            out.append(v.isoformat())
        else:
            out.append(str(v))
    return pa.array(out, pa.string())


def _point_xy(geoms: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """x, y of each point (NaN for null/empty); refuse any other geometry type."""
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    point, multipoint = 0, 4
    bad = ~missing & (types != point) & (types != multipoint)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        kinds = sorted({geoms[j].geom_type for j in np.flatnonzero(bad)})
        raise InputFileError(
            name,
            f"expected point features (one point per incident); found {', '.join(kinds)} "
            f"geometry, first at feature {i + 1}",
            row=i + 1,
        )
    multi = ~missing & (types == multipoint)
    if multi.any():
        parts = shapely.get_num_geometries(geoms[multi])
        if (parts > 1).any():
            i = int(np.flatnonzero(multi)[np.flatnonzero(parts > 1)[0]])
            raise InputFileError(
                name,
                f"feature {i + 1} is a MultiPoint of {int(parts.max())} points; "
                "expected one point per incident",
                row=i + 1,
            )
        geoms = geoms.copy()
        geoms[multi] = shapely.get_geometry(geoms[multi], 0)
    x = np.full(len(geoms), np.nan)
    y = np.full(len(geoms), np.nan)
    ok = ~missing
    x[ok] = shapely.get_x(geoms[ok])
    y[ok] = shapely.get_y(geoms[ok])
    return x, y


def _coord_text(values: np.ndarray) -> pa.Array:
    return pa.array([None if np.isnan(v) else repr(float(v)) for v in values], pa.string())


def read_points(
    path: str | Path,
    source: str,
    *,
    date_field: str,
    category_field: str | None = None,
    fixed_category: str | None = None,
    ref_field: str | None = None,
    location_field: str | None = None,
    time_field: str | None = None,
    attributes: dict[str, str] | None = None,
    category_map: dict[str, str] | None = None,
    date_format: str | None = None,
    layer: str | int | None = None,
    period: str | None = None,
) -> RawRecords:
    """Read point incidents from a GeoJSON, GeoPackage or Shapefile (via pyogrio).

    Parameters
    ----------
    path : the GIS file (for a Shapefile, the ``.shp``; its ``.prj`` must exist)
    source : source name for the batch, e.g. ``"fire/deliberate"``
    date_field : field holding the date (day-first text or a date/datetime field)
    category_field, fixed_category : the category field, or one slug for every feature
    ref_field, location_field, time_field : optional fields (reference, place, time of day)
    attributes : attribute name -> field, kept in each incident's ``attributes`` JSON
    category_map : raw category value -> taxonomy slug, before the built-in aliases
    date_format : strptime format of the date text; default UK day-first guessing
    layer : layer name or index; needed when the file has several point layers
    period : batch period label; default the span of the dates found

    Returns
    -------
    RawRecords
        Attribute fields as text plus ``x``/``y`` text columns in the file's
        CRS; ``coords`` is ``"lonlat"`` for WGS84, else ``"EPSG:nnnn"``. The
        index is the **feature number** (first feature = 1). Null or empty
        geometries give blank x/y, which validation quarantines as
        ``no-coordinates``. Field names are matched ignoring case.

    Raises
    ------
    InputFileError
        unreadable file, no CRS (except GeoJSON, WGS84 by definition),
        non-point geometry (the type found is named), or a field not present.
    ValueError
        neither or both of ``category_field`` / ``fixed_category``, or an
        unknown ``fixed_category`` slug.
    """
    if (category_field is None) == (fixed_category is None):
        raise ValueError("give exactly one of category_field or fixed_category")
    if fixed_category is not None:
        validate_slugs([fixed_category])
    name = str(path)
    layer, info = open_layer(path, layer, "point")
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer)
    except (DataSourceError, DataLayerError) as exc:
        raise InputFileError(name, f"cannot read the features: {exc}") from exc
    if "geometry" not in gdf:
        raise InputFileError(name, "the layer has no geometry; expected point features")
    crs = file_crs(gdf.crs, info, name)
    if len(gdf) == 0:
        raise InputFileError(name, "the layer holds no features")
    geoms = gdf.geometry.to_numpy()
    x, y = _point_xy(np.asarray(geoms, dtype=object), name)

    columns = [str(c) for c in gdf.columns if c != "geometry"]
    x_col, y_col = next(
        (a, b) for a, b in (("x", "y"), ("geometry_x", "geometry_y"), ("_x_", "_y_"))
        if a not in columns and b not in columns
    )  # fmt: skip
    arrays = {c: _text_column(gdf[c]) for c in columns}
    arrays[x_col] = _coord_text(x)
    arrays[y_col] = _coord_text(y)
    frame = pa.table(arrays).to_pandas()
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="feature")

    attrs = {
        key: resolve_field(columns, col, name, f"attribute {key!r}")
        for key, col in (attributes or {}).items()
    }
    fields = FieldMap(
        x=x_col,
        y=y_col,
        date=resolve_field(columns, date_field, name, "date"),
        time=resolve_field(columns, time_field, name, "time"),
        category=resolve_field(columns, category_field, name, "category"),
        source_ref=resolve_field(columns, ref_field, name, "reference"),
        location=resolve_field(columns, location_field, name, "location"),
        attributes=attrs,  # type: ignore[arg-type]
    )
    return RawRecords(
        file=name,
        source=source,
        frame=frame,
        fields=fields,
        coords=crs_label(crs),
        date_style="dayfirst",
        date_format=date_format,
        period=period,
        category_map=dict(category_map or {}),
        fixed_category=fixed_category,
        encoding=str(info.get("encoding") or "utf-8"),
    )


__all__ = ["read_points"]
