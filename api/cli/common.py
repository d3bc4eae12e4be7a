"""What the ``hotspots`` commands share: common options, opening the store, dates, profiles.

Imported by every command module of :mod:`api.cli`, so an option reads and
behaves the same in every command.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from geodata.errors import ProfileError

if TYPE_CHECKING:  # the command line imports the data stack only when a command runs
    from geodata.settings import StoreSettings
    from geodata.stores import Store

    from ..settings import Settings

from .output import EXIT_USAGE, fail

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document for scripts.")]
StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="DuckDB file to use (default: HOTSPOTS_DUCKDB_PATH, "
        "or PostGIS when HOTSPOTS_DATABASE_URL is set).",
    ),
]
CategoriesOpt = Annotated[
    str | None, typer.Option("--categories", help="Comma-separated category slugs.")
]
FromOpt = Annotated[str | None, typer.Option("--from", help="First month or day (YYYY-MM[-DD]).")]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last month or day, inclusive.")]


def cli_settings(path: Path | None = None) -> Settings:
    """The root settings of a command (:class:`api.settings.Settings`, read from the
    ``HOTSPOTS_*`` variables), with the DuckDB file ``--store`` names as its store."""
    from ..settings import Settings

    return Settings.from_env(path)


def store_settings(path: Path | None) -> StoreSettings:
    """The store from the environment, or the DuckDB file ``--store`` names."""
    return cli_settings(path).store


def open_cli_store(path: Path | None, settings: Settings | None = None) -> Store:
    """Open the store of ``settings`` (default: :func:`cli_settings` of a command's
    ``--store``)."""
    from geodata.stores import open_store

    return open_store((settings or cli_settings(path)).store)


def parse_when(text: str | None, *, end: bool) -> datetime | None:
    """``YYYY-MM`` or ``YYYY-MM-DD``; an end is inclusive (through that month or day).

    Raises :class:`typer.BadParameter` for any other text.
    """
    if text is None:
        return None
    from hotspots.temporal import month_or_day

    when = month_or_day(text, end=end)
    if when is None:
        raise typer.BadParameter(f"expected YYYY-MM or YYYY-MM-DD, got {text!r}")
    return when


def write_text_file(path: Path, text: str, option: str, as_json: bool) -> None:
    """Write a page or document a command was asked for (UTF-8); a clear exit 2 if it
    cannot be written, naming the option (``--map``, ``--html``, ``--output``)."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{option}: cannot write {path} ({exc.strerror or exc})", EXIT_USAGE, as_json)


def load_harm_weights(path: Path | None):
    """The default harm weights, or those of a TOML file (:class:`ProfileError` if unusable)."""
    from hotspots.harm import HarmWeights

    if path is None:
        return HarmWeights.default()
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return HarmWeights.from_mapping(data, where=str(path))
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise ProfileError(f"harm weights {path}: {exc}") from exc


def load_concern(path: Path | None):
    """The Gravesham 2023 concern profile, or a TOML file's (:class:`ProfileError` if unusable)."""
    from hotspots.ranking import GRAVESHAM_2023, ConcernProfile

    if path is None:
        return GRAVESHAM_2023
    import tomllib

    try:
        return ConcernProfile.from_mapping(
            tomllib.loads(path.read_text(encoding="utf-8")), where=str(path)
        )
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise ProfileError(f"concern profile {path}: {exc}") from exc
