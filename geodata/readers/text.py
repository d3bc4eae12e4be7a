"""Reading delimited text safely: encodings, binary files, ragged rows.

A CSV handed in by a partner may be UTF-8, UTF-8 with a byte-order mark, or
Windows-1252 (Excel's "CSV" on UK Windows). Anything else — UTF-16, a
spreadsheet renamed ``.csv``, a truncated download — is refused with an error
naming the file, the row and what was expected, before anything is stored.
"""

from __future__ import annotations

import csv
import io

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import InputFileError
from .limits import ReadLimits

_MAGIC = {
    b"PK\x03\x04": "a zip archive (or an Excel .xlsx workbook)",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls / Office document",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive",
    b"SQLite format 3": "a SQLite / GeoPackage database",
}


def decode_text(data: bytes, name: str) -> tuple[bytes, str]:
    """Return ``data`` as UTF-8 bytes without a BOM, and the encoding it was in.

    Raises :class:`InputFileError` for empty, binary, UTF-16 or undecodable input.
    """
    if not data.strip():
        raise InputFileError(name, "the file is empty; expected a header row and data rows")
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            raise InputFileError(name, f"this is {what}, not a CSV text file")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InputFileError(
            name, "the file is UTF-16 encoded; expected UTF-8 or Windows-1252 (save as 'CSV UTF-8')"
        )
    head = data[:65536]
    if b"\x00" in head:
        line = head[: head.index(b"\x00")].count(b"\n") + 1
        if head[1::2].count(b"\x00") > len(head) // 4 or head[0::2].count(b"\x00") > len(head) // 4:
            problem = "the file looks UTF-16 encoded; expected UTF-8 or Windows-1252"
        else:
            problem = "the file holds binary data (NUL bytes); expected a CSV text file"
        raise InputFileError(name, problem, row=line)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        encoding = "utf-8-sig"
    else:
        encoding = "utf-8"
    try:
        data.decode("utf-8")
        return data, encoding
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputFileError(
            name,
            f"byte 0x{data[exc.start]:02x} is neither UTF-8 nor Windows-1252 text "
            f"(UTF-8 failed at byte {utf8_error.start}); save the file as 'CSV UTF-8'",
            row=line,
        ) from exc
    return text.encode("utf-8"), "cp1252"


def _locate_bad_row(data: bytes, expected: int) -> tuple[int, int]:
    """Slow path, only on error: physical line and field count of the first ragged row."""
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    for _ in reader:
        break
    for record in reader:
        if record and len(record) != expected:
            return reader.line_num, len(record)
    return reader.line_num, expected


def read_csv_strings(
    data: bytes, name: str, delimiter: str = ",", limits: ReadLimits | None = None
) -> pd.DataFrame:
    """Parse UTF-8 CSV bytes into a DataFrame of strings indexed by line number.

    Every column is read as text (validation parses numbers and dates, so it
    can name the bad value). Empty cells become missing values. The index is
    the physical line of each record (the header is line 1), which is what
    quarantine and error messages report. Bytes and rows are bounded by ``limits``
    (default: from ``HOTSPOTS_*``), checked before parsing.
    """
    (limits or ReadLimits()).check_text(name, data)
    bad: list[pacsv.InvalidRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append(row)
        return "skip"

    try:
        header_line = data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
        columns = next(csv.reader([header_line], delimiter=delimiter))
        if len(set(columns)) != len(columns):
            dupes = sorted({c for c in columns if columns.count(c) > 1})
            raise InputFileError(name, f"the header repeats column(s) {dupes}", row=1)
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, invalid_row_handler=on_invalid, newlines_in_values=True
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns},
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InputFileError(name, f"not readable as CSV: {exc}") from exc
    if bad:
        first = bad[0]
        line, got = _locate_bad_row(data, first.expected_columns)
        if first.number is not None:
            line = first.number
        truncated = not data.endswith(b"\n") and data.rstrip(b"\r\n").count(b"\n") + 1 == line
        hint = " — the file seems truncated mid-row" if truncated else ""
        missing_field = columns[got] if got < len(columns) else None
        raise InputFileError(
            name,
            f"expected {first.expected_columns} fields, found {first.actual_columns}{hint}"
            + (f"; first missing field is {missing_field!r}" if missing_field else ""),
            row=line,
            field=missing_field,
        )
    frame = table.to_pandas()
    if frame.empty:
        raise InputFileError(name, "the file has a header but no data rows", row=2)
    lines = _line_numbers(data, len(frame))
    frame.index = pd.Index(lines, name="line")
    return frame


def _line_numbers(data: bytes, n_records: int) -> list[int] | range:
    """Physical line of each record: 2..n+1 unless values contain line breaks."""
    physical = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if physical - 1 == n_records:
        return range(2, n_records + 2)
    # Quoted values with line breaks (or blank lines): walk the file once.
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    out = []
    start = 1
    for i, record in enumerate(reader):
        if i > 0 and record:
            out.append(start)
        start = reader.line_num + 1
    return out[:n_records]


def raw_text(frame: pd.DataFrame, index: pd.Index) -> list[str]:
    """The selected rows re-written as CSV text, for quarantine (exact values, same order)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    out = []
    for row in frame.loc[index].itertuples(index=False, name=None):
        buf.seek(0)
        buf.truncate()
        writer.writerow(["" if pd.isna(v) else v for v in row])
        out.append(buf.getvalue().rstrip("\n"))
    return out
