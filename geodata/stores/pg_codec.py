"""How the PostGIS store encodes for and decodes from PostgreSQL: hex EWKB points for
``COPY``, strict jsonb parameters, and CSV both ways (``COPY`` is the fast path)."""

from __future__ import annotations

import io
import struct

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg.types.json import Jsonb

from .base import dump_json

_HEX = np.frombuffer(b"0123456789ABCDEF", np.uint8)
_POINT_WITH_SRID = 0x20000001  # EWKB type: Point with the SRID flag


def ewkb_points_hex(x: np.ndarray, y: np.ndarray, srid: int) -> pa.StringArray:
    """Hex EWKB of points (what PostGIS reads for geometry in COPY), without a Python loop.

    >>> ewkb_points_hex(np.array([1.0]), np.array([2.0]), 27700)[0].as_py()[:18]
    '0101000020346C0000'
    """
    n = len(x)
    raw = np.empty((n, 25), np.uint8)
    raw[:, 0] = 1  # little endian
    raw[:, 1:5] = np.frombuffer(struct.pack("<I", _POINT_WITH_SRID), np.uint8)
    raw[:, 5:9] = np.frombuffer(struct.pack("<i", srid), np.uint8)
    raw[:, 9:17] = np.ascontiguousarray(x, "<f8").view(np.uint8).reshape(n, 8)
    raw[:, 17:25] = np.ascontiguousarray(y, "<f8").view(np.uint8).reshape(n, 8)
    text = np.empty((n, 50), np.uint8)
    text[:, 0::2] = _HEX[raw >> 4]
    text[:, 1::2] = _HEX[raw & 15]
    offsets = np.arange(0, 50 * n + 1, 50, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text.tobytes()))


def _verbatim(text: str) -> str:
    return text


def jsonb(value: object, what: str) -> Jsonb:
    """``value`` for a jsonb parameter, checked and serialised once by :func:`dump_json`
    (the same strict JSON the DuckDB store keeps)."""
    return Jsonb(dump_json(value, what), dumps=_verbatim)


_CSV_WRITE = pacsv.WriteOptions(include_header=False, quoting_style="needed")


def csv_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, write_options=_CSV_WRITE)
    return buf.getvalue()


def read_csv(data: bytes, schema: pa.Schema) -> pa.Table:
    if not data:
        return schema.empty_table()
    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=schema.names),
        convert_options=pacsv.ConvertOptions(
            column_types=dict(zip(schema.names, schema.types)),
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t", "true"],
            false_values=["f", "false"],
        ),
    ).cast(schema)
