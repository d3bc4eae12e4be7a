"""Rows as read from a file, before validation.

A reader produces :class:`RawRecords`: the file's own columns as text, indexed
by line number, plus a :class:`FieldMap` saying which column holds which part
of an incident. Validation (:mod:`geodata.validate`) turns them into stored
incidents and quarantined rows; readers never drop a row themselves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class FieldMap:
    """Which source column holds each part of an incident (``None``: not present)."""

    x: str | None  # longitude or easting
    y: str | None  # latitude or northing
    date: str | None
    category: str | None = None
    source_ref: str | None = None
    time: str | None = None
    location: str | None = None
    lsoa_code: str | None = None
    ward_code: str | None = None
    #: attribute name -> column, kept in the incident's ``attributes`` JSON
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class RawRecords:
    """One file's rows (or one member of an archive), untouched apart from decoding."""

    file: str
    source: str
    frame: pd.DataFrame
    fields: FieldMap
    #: ``"lonlat"``, ``"bng"`` or ``"auto"`` (detected from the values), or any CRS string
    coords: str = "auto"
    #: ``"month"`` (``YYYY-MM``, police.uk) or ``"dayfirst"`` (UK dates, optional time)
    date_style: str = "dayfirst"
    date_format: str | None = None
    #: batch period; ``None`` = from the data (police.uk: one batch per month)
    period: str | None = None
    batch_by_month: bool = False
    #: raw category value -> slug, applied before the built-in aliases
    category_map: dict[str, str] = field(default_factory=dict)
    #: every row has this category (e.g. a fly-tipping export without a type column)
    fixed_category: str | None = None
    #: flag rows whose LSOA district is rare and far from the rest (police.uk)
    flag_far_outliers: bool = False
    encoding: str = "utf-8"

    def content_hash(self, frame: pd.DataFrame | None = None) -> str:
        """A hash of the rows' content and line numbers (not of the bytes)."""
        frame = self.frame if frame is None else frame
        h = hashlib.sha256()
        h.update("\x1f".join(map(str, frame.columns)).encode())
        h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
        return h.hexdigest()
