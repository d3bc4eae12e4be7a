"""The ``hotspots`` command line: a thin shell over the same functions the API calls.

This module only assembles the Typer app from one small module per command group
(:mod:`api.cli.imports`, :mod:`api.cli.analyse`, :mod:`api.cli.runs`, …). Every
command module imports Typer and Rich at most: pandas, the stores, the analysis,
maps and the web framework are imported inside the command that needs them, so
``hotspots --help`` and the light commands start quickly
(``benchmarks/bench_cli_start.py``).

Every command that reports takes ``--json`` and then prints exactly one JSON
document on stdout. Exit codes are listed in :mod:`api.cli.output`.
"""

from __future__ import annotations

import typer

from geodata.errors import HotspotsError

from . import (
    analyse,
    backtest,
    batches,
    catalog,
    coverage,
    db,
    demo,
    imports,
    interventions,
    keys,
    maps,
    partitions,
    plan,
    rates,
    runs,
    serve,
)
from .output import err, exit_code_for

app = typer.Typer(
    name="hotspots",
    help="Find where and when crime and anti-social behaviour concentrate, and act on it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(imports.import_app, name="import")
app.add_typer(db.db_app, name="db")
plan.register(app)  # hotspots plan, hotspots briefing
app.command("batches")(batches.list_batches)
app.command("delete-batch")(batches.delete_batch)
app.command("quarantine")(batches.show_quarantine)
app.command("categories")(catalog.list_categories)
app.command("profiles")(catalog.list_profiles_cmd)
app.command("analyse")(analyse.analyse)
app.command("rates")(rates.rates)
app.add_typer(keys.keys_app, name="keys")
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)
app.command("map")(maps.write_map)
app.command("backtest")(backtest.backtest_cmd)
app.command("knox")(backtest.knox_cmd)
app.add_typer(runs.runs_app, name="runs")
app.command("share")(runs.share_cmd)
app.command("coverage")(coverage.coverage_cmd)
app.command("export-partitions")(partitions.export_partitions)
app.add_typer(interventions.interventions_app, name="interventions")
app.command("evaluate")(interventions.evaluate)


def main() -> None:
    """Console-script entry point (``hotspots``; also ``python -m api.cli``)."""
    try:
        app()
    except HotspotsError as exc:  # e.g. a bad HOTSPOTS_* variable met before a command's own
        err.print(f"error: {exc.message}")  # error reporting (api.cli.output) starts
        raise SystemExit(exit_code_for(exc)) from None
