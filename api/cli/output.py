"""How the command line reports: readable tables for people, one JSON document for scripts.

Exit codes (stable; scripts may rely on them):

====  ==============================================================
0     success (rows may have been quarantined: see the report)
1     ``--strict`` was given and some rows were quarantined
2     the command line itself is wrong (unknown option, missing argument)
3     an input file or profile is unusable; nothing was stored
4     the store failed or cannot be reached; nothing was changed
5     settings are inconsistent (e.g. a store made with another CRS)
6     something named does not exist (batch, area, profile)
====  ==============================================================
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from geodata.errors import (
    ConfigurationError,
    HotspotsError,
    InputFileError,
    NotFound,
    ProfileError,
    StoreError,
)

if TYPE_CHECKING:
    from geodata.model import ImportReport

EXIT_OK, EXIT_STRICT, EXIT_USAGE, EXIT_INPUT, EXIT_STORE, EXIT_CONFIG, EXIT_NOT_FOUND = range(7)

out = Console(highlight=False)
if not out.is_terminal:  # piped or captured: wide enough for the tables, no wrapping
    out = Console(highlight=False, width=160)
err = Console(stderr=True, highlight=False)


def exit_code_for(exc: HotspotsError) -> int:
    if isinstance(exc, InputFileError | ProfileError):
        return EXIT_INPUT
    if isinstance(exc, StoreError):
        return EXIT_STORE
    if isinstance(exc, ConfigurationError):
        return EXIT_CONFIG
    if isinstance(exc, NotFound):
        return EXIT_NOT_FOUND
    if exc.status in (400, 409, 422):  # a request the data or the rules cannot answer
        return EXIT_USAGE
    return EXIT_STORE


@contextmanager
def reporting_errors(as_json: bool) -> Iterator[None]:
    """Turn our errors into a message (or a JSON error document) and a stable exit code."""
    try:
        yield
    except HotspotsError as exc:
        if as_json:
            print(json.dumps({"error": exc.to_dict()}, indent=2))
        else:
            err.print(f"[bold red]error:[/] {exc.message}")
        raise typer.Exit(exit_code_for(exc)) from None


def print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, default=str))


def stderr_bars(enabled: bool = True, *first_columns) -> Progress:
    """Rich progress bars on stderr, shown on a terminal only and cleared when done (stdout
    and ``--json`` never see them)."""
    return Progress(
        *first_columns,
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not (enabled and err.is_terminal),
    )


@contextmanager
def import_progress(
    enabled: bool,
) -> Iterator[tuple[Callable[[str], None], Callable[[int, int], None]]]:
    """Progress bars on stderr: files read, rows written. Silent when not a terminal."""
    progress = stderr_bars(enabled)
    files = progress.add_task("reading files", total=None)
    rows = progress.add_task("rows written", total=None)

    def on_file(name: str) -> None:
        progress.update(files, advance=1, description=f"reading {name.rsplit('/', 1)[-1]}")

    def on_rows(done: int, total: int) -> None:
        progress.update(rows, completed=done)

    with progress:
        yield on_file, on_rows


def print_import_report(report: ImportReport, title: str = "Import") -> None:
    """A table per batch, then rejections by reason with first examples, then warnings."""
    table = Table(title=title, title_justify="left")
    for col, justify in (
        ("batch", "left"),
        ("status", "left"),
        ("read", "right"),
        ("accepted", "right"),
        ("rejected", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for b in report.batches:
        colour = {"created": "green", "replaced": "yellow", "unchanged": "dim"}.get(b.status, "")
        table.add_row(
            b.batch_id,
            f"[{colour}]{b.status}[/]" if colour else b.status,
            f"{b.rows_read:,}",
            f"{b.rows_accepted:,}",
            f"{b.rows_rejected:,}",
        )
    if len(report.batches) > 1:
        table.add_row(
            "[bold]total[/]",
            "",
            f"{report.rows_read:,}",
            f"{report.rows_accepted:,}",
            f"{report.rows_rejected:,}",
        )
    out.print(table)
    reasons = report.rejected_by_reason()
    if reasons:
        out.print("[bold]Quarantined rows by reason[/] (see `hotspots quarantine`):")
        for reason, n in reasons.items():
            from geodata.model import REASONS

            out.print(f"  {n:>7,}  {reason}: {REASONS.get(reason, reason)}")
            example = next((ex for b in report.batches for ex in b.examples.get(reason, [])), None)
            if example:
                where = f"row {example['row']}" + (
                    f", field {example['field']!r}" if example.get("field") else ""
                )
                out.print(f"           e.g. {where}: {example['detail']}")
    warnings: dict[str, tuple[int, str]] = {}
    for b in report.batches:
        for w in b.warnings:
            key = w["kind"] + ":" + w["message"] if w["kind"] == "unknown-category" else w["kind"]
            n, msg = warnings.get(key, (0, w["message"]))
            warnings[key] = (n + int(w.get("count", 0)), msg)
    if warnings:
        out.print("[bold yellow]Warnings[/] (rows kept):")
        for n, msg in warnings.values():
            out.print(f"  {n:>7,}  {msg}")


def fail(message: str, code: int, as_json: bool = False) -> None:
    """Stop with a message (one line, however narrow the terminal) and an exit code."""
    if as_json:
        print(json.dumps({"error": {"detail": message}}))
    else:
        err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def print_ranked(result, top: int, title: str | None = None) -> None:
    """The ranked hotspots as a table: score, its four components, counts, where.

    ``result`` is an :class:`~hotspots.analysis.AnalysisResult` or a stored run's
    FeatureCollection (the same properties and provenance).
    """
    if isinstance(result, dict):
        rows = [f["properties"] for f in result.get("features", [])[:top]]
        prov, notes, run_id = result["provenance"], result.get("notes", []), result["run_id"]
    else:
        rows = result.hotspots.head(top).to_dict("records")
        prov, notes, run_id = result.provenance.to_dict(), result.notes, result.run_id
    table = Table(
        title=title
        or f"{prov['method']} hotspots — run {run_id}, {prov['n_incidents']:,} incidents",
        title_justify="left",
    )
    for col in (
        "rank",
        "score",
        "volume",
        "harm",
        "trend",
        "concern",
        "count",
        "area ha",
        "harm sum",
        "harm/km²",
    ):
        table.add_column(col, justify="right")
    table.add_column("where (top street; lat, lon)")
    for r in rows:
        streets = r.get("top_locations")
        street = streets[0][0] if streets is not None and len(streets) else "(unnamed)"
        table.add_row(
            str(r["rank"]),
            f"{r['score']:.3f}",
            f"{r['volume_component']:.2f}",
            f"{r['harm_component']:.2f}",
            f"{r['trend_component']:.2f}",
            f"{r['concern_component']:.2f}",
            f"{r['count']:,}",
            f"{r['area_m2'] / 1e4:,.1f}" if r.get("area_m2") is not None else "",
            f"{r['harm']:,.0f}",
            f"{r['harm_density_per_km2']:,.0f}",
            f"{street}; {r['centroid_lat']:.4f}, {r['centroid_lon']:.4f}",
        )
    out.print(table)
    for name, choice in prov["automatic"].items():
        out.print(f"[dim]{name} = {choice['value']}: {choice['reason']}[/]")
    for note in notes:
        out.print(f"[yellow]{note}[/]")
    out.print(
        f"[dim]harm weights {prov['weights_version']}; concern profile "
        f"{prov['concern_profile']}; score = "
        + " + ".join(f"{w:.2f}×{c}" for c, w in prov["ranking_weights"].items())
        + "[/]"
    )
