"""Bounds on what one input file may cost to read: bytes, rows and, for archives
(police.uk zips, Excel workbooks), members, uncompressed size and compression ratio.

Every reader checks these *before* it spends memory: a zip's central directory is
checked before any member is extracted, a file's size before it is read, a CSV's
line count before it is parsed. Each refusal is an :class:`InputFileError` naming
the file, the limit and the environment variable that sets it.

==========================================  ==================================  =========
variable                                    meaning                             default
==========================================  ==================================  =========
``HOTSPOTS_MAX_FILE_MB``                    one CSV / Excel file (or zip member)  500
``HOTSPOTS_MAX_ROWS``                       data rows in one CSV / Excel sheet    5000000
``HOTSPOTS_ZIP_MAX_MEMBERS``                entries in one zip archive            10000
``HOTSPOTS_ZIP_MAX_UNCOMPRESSED_MB``        all members of one zip, uncompressed  2000
``HOTSPOTS_ZIP_MAX_RATIO``                  uncompressed ÷ compressed per member  200
==========================================  ==================================  =========
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..errors import InputFileError

MB = 1024 * 1024


class ReadLimits(BaseSettings):
    """The bounds, from ``HOTSPOTS_*`` variables (read when constructed, never at import)."""

    model_config = SettingsConfigDict(env_prefix="HOTSPOTS_", extra="ignore", frozen=True)

    max_file_mb: float = Field(500.0, gt=0)
    max_rows: int = Field(5_000_000, ge=1)
    zip_max_members: int = Field(10_000, ge=1)
    zip_max_uncompressed_mb: float = Field(2_000.0, gt=0)
    zip_max_ratio: float = Field(200.0, gt=1)

    def check_size(self, name: str | Path, size: int) -> None:
        """Refuse a file (or archive member) of ``size`` bytes over ``max_file_mb``."""
        if size > self.max_file_mb * MB:
            raise InputFileError(
                name,
                f"the file is {size / MB:,.1f} MB; the limit is {self.max_file_mb:g} MB per "
                "file (HOTSPOTS_MAX_FILE_MB); split it",
            )

    def check_rows(self, name: str | Path, rows: int) -> None:
        """Refuse a table of more than ``max_rows`` data rows."""
        if rows > self.max_rows:
            raise InputFileError(
                name,
                f"the file has more than {self.max_rows:,} data rows, the limit per file "
                "(HOTSPOTS_MAX_ROWS); split it",
                row=self.max_rows + 2,
            )

    def check_text(self, name: str | Path, data: bytes) -> None:
        """Before parsing delimited text: its size, and its line count less the header
        (a quoted value spanning lines counts once per line, so the bound is cautious)."""
        self.check_size(name, len(data))
        self.check_rows(name, data.rstrip(b"\r\n").count(b"\n"))

    def check_zip(self, name: str | Path, archive: zipfile.ZipFile) -> None:
        """Check a zip's directory before anything is extracted: member count, total
        uncompressed size and each member's compression ratio (a zip bomb fails here)."""
        members = [i for i in archive.infolist() if not i.is_dir()]
        if len(members) > self.zip_max_members:
            raise InputFileError(
                name,
                f"the zip archive holds {len(members):,} files; the limit is "
                f"{self.zip_max_members:,} (HOTSPOTS_ZIP_MAX_MEMBERS)",
            )
        total = sum(i.file_size for i in members)
        if total > self.zip_max_uncompressed_mb * MB:
            raise InputFileError(
                name,
                f"the zip archive unpacks to {total / MB:,.1f} MB; the limit is "
                f"{self.zip_max_uncompressed_mb:g} MB (HOTSPOTS_ZIP_MAX_UNCOMPRESSED_MB)",
            )
        for info in members:
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > MB and ratio > self.zip_max_ratio:
                raise InputFileError(
                    name,
                    f"member {info.filename!r} is compressed {ratio:,.0f} to 1; the limit is "
                    f"{self.zip_max_ratio:g} to 1 (HOTSPOTS_ZIP_MAX_RATIO) — the archive "
                    "looks like a zip bomb",
                )
            self.check_size(f"{name}!{info.filename}", info.file_size)

    def read_member(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> bytes:
        """A member's bytes, reading at most its declared size (a lying header cannot
        make it inflate further)."""
        with archive.open(info) as handle:
            data = handle.read(info.file_size + 1)
        if len(data) > info.file_size:
            raise InputFileError(name, "the zip member is larger than its header declares")
        return data
