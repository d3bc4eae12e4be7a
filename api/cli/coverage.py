"""``hotspots coverage``: which months are loaded, per source (a month-by-source table).

Registered on the main app by :mod:`api.cli`. A month a source lacks is left out
of every figure for that source's categories, never counted as zero
(:mod:`geodata.coverage`).
"""

from __future__ import annotations

from contextlib import closing

from rich.table import Table

from .common import JsonOpt, StoreOpt, open_cli_store
from .output import out, print_json, reporting_errors


def coverage_cmd(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Show which months each source has loaded (gaps are left out of figures, not zero)."""
    from geodata.coverage import coverage_of

    with reporting_errors(as_json), closing(open_cli_store(store)) as st:
        cov = coverage_of(st)
    if as_json:
        print_json(cov.to_dict())
        return
    print_coverage(cov)


def print_coverage(cov) -> None:
    """The month-by-source table: one row per year and source, ● loaded, · missing."""
    doc = cov.to_dict()
    if not doc["months"]:
        out.print("No incidents are loaded.")
        return
    table = Table(title="Months loaded per source (● loaded, · not loaded)", title_justify="left")
    table.add_column("source")
    table.add_column("year")
    for m in ("J", "F", "M", "A", "M", "J", "J", "A", "S", "O", "N", "D"):
        table.add_column(m, justify="center")
    years = sorted({m[:4] for m in doc["months"]})
    for source, info in doc["sources"].items():
        have = set(info["months"])
        for year in years:
            marks = ["●" if f"{year}-{i:02d}" in have else "·" for i in range(1, 13)]
            table.add_row(source, year, *marks)
    out.print(table)
    out.print(
        "A month a source has not loaded is left out of every figure for its categories, "
        "never counted as zero."
    )
