"""``hotspots export-partitions``: the store's incidents as partitioned GeoParquet, for
a Dask cluster or any GeoParquet reader (:mod:`geodata.partitioned`)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

from .common import JsonOpt, StoreOpt, open_cli_store
from .common import parse_when as _parse_when
from .output import out, print_json, reporting_errors


def export_partitions(
    folder: Annotated[Path, typer.Argument(help="A new (or empty) folder for the dataset.")],
    parent_res: Annotated[
        int, typer.Option(help="H3 resolution of the partitions: 4, 5 or 6 (≈ 1,770/250/36 km²).")
    ] = 5,
    categories: Annotated[str | None, typer.Option(help="Comma-separated category slugs.")] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First month or day (YYYY-MM[-DD]).")
    ] = None,
    to: Annotated[str | None, typer.Option(help="Last month or day, inclusive.")] = None,
    include_sensitive: Annotated[
        bool, typer.Option(help="Keep incidents flagged sensitive (analysts' data: keep it so).")
    ] = True,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write incidents as GeoParquet partitioned by H3 parent cell and month."""
    from geodata.partitioned import export_partitioned
    from geodata.stores import IncidentQuery

    with reporting_errors(as_json), closing(open_cli_store(store)) as st:
        query = IncidentQuery(
            categories=[c.strip() for c in categories.split(",")] if categories else None,
            start=_parse_when(from_, end=False),
            end=_parse_when(to, end=True),
            include_sensitive=include_sensitive,
        )
        report = export_partitioned(st, folder, parent_res=parent_res, query=query).to_dict()
    if as_json:
        print_json(report)
        return
    out.print(
        f"Wrote {report['rows']:,} incidents to {report['folder']}: {report['parents']} H3 "
        f"parent cells (res {report['parent_res']}) × months = {report['partitions']} "
        f"partitions, {report['files']} GeoParquet files ({report['crs']})."
    )
