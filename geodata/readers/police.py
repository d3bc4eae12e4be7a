"""police.uk street-level crime files: one CSV, a folder of them, or the zip police.uk hands out.

A police.uk download holds ``YYYY-MM/YYYY-MM-<force>-street.csv`` files (and,
when asked for, ``-outcomes`` and ``-stop-and-search`` files, which are not
incidents and are skipped with a note). Each street file has the same twelve
columns; every row is one crime or ASB incident at an anonymised snap point,
dated to the month only.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputFileError
from ..records import FieldMap, RawRecords
from .limits import ReadLimits
from .text import decode_text, read_csv_strings

POLICE_COLUMNS = (
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
)

POLICE_FIELDS = FieldMap(
    x="Longitude",
    y="Latitude",
    date="Month",
    category="Crime type",
    source_ref="Crime ID",
    location="Location",
    lsoa_code="LSOA code",
    attributes={
        "reported_by": "Reported by",
        "falls_within": "Falls within",
        "lsoa_name": "LSOA name",
        "outcome": "Last outcome category",
        "context": "Context",
    },
)

_STREET = re.compile(r"(^|/)(\d{4}-\d{2})-[a-z0-9-]+-street\.csv$", re.IGNORECASE)
_NOT_INCIDENTS = re.compile(r"-(outcomes|stop-and-search)\.csv$", re.IGNORECASE)


def force_slug(name: str) -> str:
    """``"Kent Police"`` → ``"kent-police"``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unknown-force"


def read_police_bytes(data: bytes, name: str, limits: ReadLimits | None = None) -> RawRecords:
    """Read one street-level CSV's bytes; raise :class:`InputFileError` if it is not one
    (or if it is over the :class:`~geodata.readers.limits.ReadLimits`)."""
    utf8, encoding = decode_text(data, name)
    frame = read_csv_strings(utf8, name, limits=limits)
    missing = [c for c in POLICE_COLUMNS if c not in frame.columns]
    if missing:
        raise InputFileError(
            name,
            f"not a police.uk street-level file: missing column(s) {missing}; "
            f"expected the 12 columns {list(POLICE_COLUMNS)}, found {list(frame.columns)}",
            row=1,
            field=missing[0],
        )
    forces = frame["Falls within"].dropna()
    force = forces.mode().iat[0] if not forces.empty else "unknown force"
    return RawRecords(
        file=name,
        source=f"police-uk/{force_slug(force)}",
        frame=frame[list(POLICE_COLUMNS)],
        fields=POLICE_FIELDS,
        coords="lonlat",
        date_style="month",
        batch_by_month=True,
        flag_far_outliers=True,
        encoding=encoding,
    )


def iter_police_files(
    path: str | Path, limits: ReadLimits | None = None
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, bytes)`` for every street-level CSV in a file, folder or zip.

    Outcomes and stop-and-search files are skipped: they are not incidents.
    Raises :class:`InputFileError` when nothing usable is found, or when a file or
    archive is over ``limits`` (default: from ``HOTSPOTS_*``; a zip's directory is
    checked before anything is extracted).
    """
    limits = limits or ReadLimits()
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "no such file or folder")
    found = False
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and (child.suffix.lower() == ".csv" or zipfile.is_zipfile(child)):
                if _NOT_INCIDENTS.search(child.name):
                    continue
                yield from iter_police_files(child, limits)
                found = True
    elif zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                limits.check_zip(path, archive)
                for info in sorted(archive.infolist(), key=lambda i: i.filename):
                    if info.is_dir() or not info.filename.lower().endswith(".csv"):
                        continue
                    if _NOT_INCIDENTS.search(info.filename):
                        continue
                    found = True
                    shown = f"{path}!{info.filename}"
                    yield shown, limits.read_member(archive, info, shown)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise InputFileError(path, f"the zip archive is damaged: {exc}") from exc
    else:
        found = True
        limits.check_size(path, path.stat().st_size)
        yield str(path), path.read_bytes()
    if not found:
        raise InputFileError(
            path, "no police.uk street-level CSV (YYYY-MM-<force>-street.csv) found"
        )


def read_police(path: str | Path) -> Iterator[RawRecords]:
    """Read every street-level file under ``path`` (CSV, folder or police.uk zip)."""
    limits = ReadLimits()
    for name, data in iter_police_files(path, limits):
        yield read_police_bytes(data, name, limits)
