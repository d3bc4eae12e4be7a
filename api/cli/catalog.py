"""``hotspots categories`` and ``hotspots profiles``: the taxonomy and council profiles."""

from __future__ import annotations

from rich.table import Table

from .common import JsonOpt, cli_settings
from .output import (
    out,
    print_json,
)


def list_categories(as_json: JsonOpt = False) -> None:
    """The taxonomy: every category slug, its label, group and source."""
    from geodata.taxonomy import CATEGORIES

    sensitive = cli_settings().ingest.sensitive_categories
    rows = [
        {
            "slug": c.slug,
            "label": c.label,
            "group": c.group,
            "source": c.source,
            "sensitive": c.slug in sensitive,
        }
        for c in CATEGORIES
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(title="Categories", title_justify="left")
    for col in ("slug", "label", "group", "source", "sensitive"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["slug"], r["label"], r["group"], r["source"], "yes" if r["sensitive"] else ""
        )
    out.print(table)


def list_profiles_cmd(as_json: JsonOpt = False) -> None:
    """Column-mapping profiles shipped for council exports."""
    from geodata.readers.council import list_profiles, load_profile

    profiles = [load_profile(name) for name in list_profiles()]
    if as_json:
        print_json([{"name": p.name, "description": p.description} for p in profiles])
        return
    for p in profiles:
        out.print(f"[bold]{p.name}[/]: {p.description}")
