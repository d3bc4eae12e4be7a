"""The data window a request asks for: what the use cases take, whichever door parsed it
(:func:`api.filters.parse_window` for the web API, the command line's ``--from``/``--to``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class Window:
    """From ``start`` (inclusive) to ``end`` (exclusive); ``None``: open."""

    start: datetime | None = None
    end: datetime | None = None
