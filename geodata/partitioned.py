"""Incidents as partitioned GeoParquet: the exchange format of analyses on a Dask cluster.

``export_partitioned(store, folder)`` writes the store's incidents (or a selection) as
a Hive-partitioned Parquet dataset, ``parent=<H3 cell>/month=<YYYY-MM>/part-….parquet``:

- ``parent``: the incident's H3 cell at a coarse resolution (4, 5 or 6: ≈ 1,770, 250
  or 36 km²), the partitioning of :mod:`hotspots.scaleout`; ``month`` its month;
- every file is GeoParquet 1.1: a WKB ``geometry`` column of points in the analysis
  CRS (its PROJJSON in the ``geo`` metadata), beside ``x``/``y`` (that CRS),
  ``lon``/``lat`` and the columns an analysis reads;
- ``row``: the incident's position in the store's id order, so a distributed run
  numbers clusters as a single-machine run over the same rows does.

The store is read in keyset pages (``chunk_rows`` incidents at a time), so an export
never holds more than one page: a national store exports on a small machine. A file
holds one page's rows of one partition: at res 5 and one month, police.uk's busiest
partitions are tens of thousands of rows (a few MB), so a 2 GB worker holds many.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import shapely

from .errors import ConfigurationError
from .stores.base import IncidentQuery, Store

#: parent resolutions a partitioning accepts (≈ 1,770, 250 and 36 km² per partition)
PARENT_RES = (4, 5, 6)


def check_parent_res(res: object) -> int:
    if isinstance(res, bool) or not isinstance(res, int | np.integer) or res not in PARENT_RES:
        raise ValueError(
            f"parent_res: expected one of {PARENT_RES} (H3 partitions of ≈ 1,770, 250 or "
            f"36 km²), got {res!r}"
        )
    return int(res)


def parent_cells(lat, lon, parent_res: int) -> np.ndarray:
    """H3 cell (int64) at ``parent_res`` of each point; -1 where a coordinate is missing."""
    from h3ronpy import vector as h3vector

    parent_res = check_parent_res(parent_res)
    lat = np.asarray(lat, float)
    lon = np.asarray(lon, float)
    out = np.full(lat.size, -1, np.int64)
    ok = np.isfinite(lat) & np.isfinite(lon)
    if ok.any():
        cells = h3vector.coordinates_to_cells(lat[ok].copy(), lon[ok].copy(), parent_res)
        out[ok] = np.asarray(pa.array(cells)).astype(np.int64)
    return out


#: the columns exported beside the partition keys, geometry and row
COLUMNS = (
    "id", "x", "y", "lon", "lat", "category", "occurred_at", "occurred_precision",
    "location", "batch_id", "source", "sensitive",
)  # fmt: skip
PARTITIONING = ds.partitioning(
    pa.schema([("parent", pa.string()), ("month", pa.string())]), flavor="hive"
)


@dataclass
class PartitionedExport:
    """What an export wrote: rows, partitions, files and the dataset's folder."""

    folder: str
    rows: int = 0
    parent_res: int = 5
    crs: str = ""
    partitions: set = field(default_factory=set)
    files: int = 0

    def to_dict(self) -> dict:
        parents = {p for p, _ in self.partitions}
        return {
            "folder": self.folder,
            "rows": self.rows,
            "crs": self.crs,
            "parent_res": self.parent_res,
            "parents": len(parents),
            "partitions": len(self.partitions),
            "files": self.files,
        }


def geo_metadata(crs: str, bbox: list[float] | None) -> bytes:
    """GeoParquet 1.1 file metadata for a WKB point column in ``crs``."""
    from pyproj import CRS

    column = {
        "encoding": "WKB",
        "geometry_types": ["Point"],
        "crs": CRS.from_user_input(crs).to_json_dict(),
    }
    if bbox is not None:
        column["bbox"] = bbox
    return json.dumps(
        {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": column}}
    ).encode()


def _keys(table: pa.Table, parent_res: int) -> tuple[pa.Array, pa.Array]:
    lat = table["lat"].to_numpy(zero_copy_only=False)
    lon = table["lon"].to_numpy(zero_copy_only=False)
    parents = parent_cells(lat, lon, parent_res)
    distinct = np.unique(parents)
    names = np.array([format(int(p), "x") if p >= 0 else "none" for p in distinct])
    parent = names[np.searchsorted(distinct, parents)]
    at = table["occurred_at"].to_numpy(zero_copy_only=False).astype("datetime64[M]")
    month = np.datetime_as_string(at, unit="M")
    return pa.array(parent), pa.array(month)


def export_partitioned(
    store: Store,
    folder: str | Path,
    *,
    parent_res: int = 5,
    query: IncidentQuery | None = None,
    chunk_rows: int = 1_000_000,
) -> PartitionedExport:
    """Write the incidents of ``query`` (default: all) to ``folder`` as partitioned
    GeoParquet; refuses a folder that already holds files (nothing is overwritten)."""
    try:
        parent_res = check_parent_res(parent_res)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc
    out = Path(folder)
    if out.exists() and any(out.iterdir()):
        raise ConfigurationError(
            f"{out}: expected an empty or new folder for the partitioned export, "
            "found files in it (nothing was overwritten)"
        )
    out.mkdir(parents=True, exist_ok=True)
    base = query or IncidentQuery()
    report = PartitionedExport(str(out), parent_res=parent_res, crs=store.analysis_crs)
    after: str | None = None
    page = 0
    while True:
        q = IncidentQuery(
            **{**base.__dict__, "columns": list(COLUMNS), "limit": chunk_rows, "after_id": after}
        )
        table = store.query_incidents(q)
        if table.num_rows == 0:
            break
        x = table["x"].to_numpy(zero_copy_only=False)
        y = table["y"].to_numpy(zero_copy_only=False)
        geometry = shapely.to_wkb(shapely.points(x, y))
        parent, month = _keys(table, parent_res)
        rows = pa.array(np.arange(report.rows, report.rows + table.num_rows, dtype=np.int64))
        table = (
            table.append_column("row", rows)
            .append_column("geometry", pa.array(geometry, pa.binary()))
            .append_column("parent", parent)
            .append_column("month", month)
        )
        ok = np.isfinite(x) & np.isfinite(y)
        bbox = [float(x[ok].min()), float(y[ok].min()), float(x[ok].max()), float(y[ok].max())]
        table = table.replace_schema_metadata({b"geo": geo_metadata(store.analysis_crs, bbox)})
        written: list[str] = []
        ds.write_dataset(
            table,
            out,
            format="parquet",
            partitioning=PARTITIONING,
            basename_template=f"part-{page:05d}-{{i}}.parquet",
            existing_data_behavior="overwrite_or_ignore",
            file_visitor=lambda f, w=written: w.append(f.path),
        )
        report.files += len(written)
        report.rows += table.num_rows
        report.partitions |= set(zip(parent.to_pylist(), month.to_pylist()))
        after = str(table["id"][-1])
        page += 1
    return report


def read_partition(folder: str | Path, parent: str, columns: list[str] | None = None) -> pa.Table:
    """Every month of one parent cell of an export (``columns``: a subset), in row order."""
    dataset = ds.dataset(Path(folder) / f"parent={parent}", format="parquet", partitioning="hive")
    table = dataset.to_table(columns=columns)
    if "row" in table.column_names:
        table = table.sort_by("row")
    return table


def parents_of(folder: str | Path) -> list[str]:
    """The parent cells of an export, sorted."""
    return sorted(p.name.split("=", 1)[1] for p in Path(folder).glob("parent=*"))
