"""police.uk street-level files: one CSV, a folder, a police.uk zip, encodings, and bad files.

Every bad file raises :class:`InputFileError` saying where (path, row, field)
and what was expected, and importing it leaves a store exactly as it was.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from geodata.errors import InputFileError
from geodata.ingest import import_records
from geodata.readers.police import POLICE_COLUMNS, read_police, read_police_bytes
from geodata.stores.base import IncidentQuery, Store
from geodata.stores.duckdb_store import DuckDBStore
from geodata.validate import ValidationContext, validate

KENT = "police-uk/kent-police"


def month_rows(police_csv, month: str, n: int = 5, **kw) -> list[list[str]]:
    return [
        police_csv.row(
            f"{month}-{i:03d}".replace("-", "") + "ab" * 20,
            month,
            0.30 + i / 100,
            51.40 + i / 200,
            list(police_csv.types)[i % 14],
            **kw,
        )
        for i in range(n)
    ]


def read_all(path: Path) -> list:
    """Read and validate every file (what an import does before writing)."""
    out = []
    for rec in read_police(path):
        out.append(rec)
        validate(rec, ValidationContext())
    return out


def assert_cells(rec, rows: list[list[str]]) -> None:
    assert list(rec.frame.columns) == list(POLICE_COLUMNS)
    assert list(rec.frame.index) == list(range(2, len(rows) + 2))
    for (_, got), want in zip(rec.frame.iterrows(), rows):
        cells = ["" if isinstance(v, float) and math.isnan(v) else v for v in got.tolist()]
        assert cells == want


# --------------------------------------------------------------------------- good files


def test_single_csv(tmp_path: Path, police_csv) -> None:
    rows = month_rows(police_csv, "2022-01", 6)
    path = police_csv.write(tmp_path / "2022-01-kent-street.csv", rows)
    (rec,) = read_police(path)
    assert rec.file == str(path)
    assert rec.source == KENT
    assert (rec.coords, rec.date_style, rec.batch_by_month) == ("lonlat", "month", True)
    assert rec.encoding == "utf-8"
    assert_cells(rec, rows)
    # read_police accepts a str as well as a Path, and the bytes reader agrees.
    assert read_police_bytes(path.read_bytes(), str(path)).frame.equals(rec.frame)
    assert [r.file for r in read_police(str(path))] == [str(path)]


def test_folder_skips_outcomes_and_other_files(tmp_path: Path, police_csv) -> None:
    jan = police_csv.write(
        tmp_path / "2022-01" / "2022-01-kent-street.csv", month_rows(police_csv, "2022-01")
    )
    feb = police_csv.write(
        tmp_path / "2022-02" / "2022-02-kent-street.csv", month_rows(police_csv, "2022-02", 3)
    )
    (tmp_path / "2022-01" / "2022-01-kent-outcomes.csv").write_text("Crime ID,Outcome\n1,x\n")
    (tmp_path / "2022-01" / "2022-01-kent-stop-and-search.csv").write_text("Type\nPerson\n")
    (tmp_path / "README.txt").write_text("downloaded from data.police.uk\n")
    recs = list(read_police(tmp_path))
    assert [r.file for r in recs] == [str(jan), str(feb)]
    assert [len(r.frame) for r in recs] == [5, 3]


def police_zip(path: Path, police_csv, members: dict[str, list[list[str]]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, rows in members.items():
            zf.writestr(name, "\n".join(police_csv.lines(rows)) + "\n")
        zf.writestr(
            "2022-01/2022-01-kent-outcomes.csv",
            "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,"
            "LSOA code,LSOA name,Outcome type\n",
        )
    return path


def test_police_uk_zip(tmp_path: Path, police_csv) -> None:
    jan = month_rows(police_csv, "2022-01", 4)
    feb = month_rows(police_csv, "2022-02", 2)
    path = police_zip(
        tmp_path / "download.zip",
        police_csv,
        {"2022-02/2022-02-kent-street.csv": feb, "2022-01/2022-01-kent-street.csv": jan},
    )
    recs = list(read_police(path))
    assert [r.file for r in recs] == [
        f"{path}!2022-01/2022-01-kent-street.csv",
        f"{path}!2022-02/2022-02-kent-street.csv",
    ]
    assert_cells(recs[0], jan)
    assert_cells(recs[1], feb)
    # A zip inside a folder is opened too.
    folder = tmp_path / "inbox"
    folder.mkdir()
    path.rename(folder / "download.zip")
    assert len(list(read_police(folder))) == 2

    with DuckDBStore(tmp_path / "z.duckdb") as store:
        report = import_records(store, read_police(folder))
        assert [b.status for b in report.batches] == ["created", "created"]
        assert [b.files for b in store.list_batches()] == [
            [f"{folder / 'download.zip'}!2022-01/2022-01-kent-street.csv"],
            [f"{folder / 'download.zip'}!2022-02/2022-02-kent-street.csv"],
        ]
        assert store.count_incidents() == 6


def test_utf8_bom(tmp_path: Path, police_csv) -> None:
    rows = month_rows(police_csv, "2022-01", 3, location="On or near Café Row")
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ("\n".join(police_csv.lines(rows)) + "\n").encode())
    (rec,) = read_police(path)
    assert rec.encoding == "utf-8-sig"
    assert rec.frame.columns[0] == "Crime ID"  # no BOM glued to the first name
    assert_cells(rec, rows)


def test_cp1252_and_stored_text(tmp_path: Path, police_csv) -> None:
    rows = month_rows(police_csv, "2022-01", 3, location="On or near Café £1 Shop")
    rows[2][4] = rows[2][5] = ""  # quarantined: its raw text must be decoded too
    path = police_csv.write(tmp_path / "excel.csv", rows, encoding="cp1252")
    assert "é".encode("cp1252") in path.read_bytes()
    (rec,) = read_police(path)
    assert rec.encoding == "cp1252"
    assert_cells(rec, rows)
    with DuckDBStore(tmp_path / "t.duckdb") as store:
        import_records(store, read_police(path))
        locations = store.query_incidents(IncidentQuery(columns=["location"]))
        assert locations.column("location").to_pylist() == ["On or near Café £1 Shop"] * 2
        (raw,) = store.read_quarantine().column("raw").to_pylist()
        assert raw == police_csv.lines([rows[2]])[1]


def test_crlf_and_quoted_line_breaks(tmp_path: Path, police_csv) -> None:
    rows = month_rows(police_csv, "2022-01", 4)
    rows[1][6] = "On or near\nHigh Street"  # a quoted value over two lines
    rows[3][4] = ""  # no coordinates: quarantined with its physical line number
    rows[3][5] = ""
    path = tmp_path / "crlf.csv"
    lines = police_csv.lines(rows)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    (rec,) = read_police(path)
    assert list(rec.frame.index) == [2, 3, 5, 6]  # row 3 spans lines 3-4
    assert rec.frame["Location"].iloc[1].replace("\r", "") == "On or near\nHigh Street"
    assert rec.frame["Context"].isna().all()  # no stray "\r" in the last column
    (batch,) = validate(rec, ValidationContext())
    assert batch.quarantine.column("row_number").to_pylist() == [6]
    assert batch.incidents.column("source_row").to_pylist() == [2, 3, 5]


@pytest.mark.shared_data
def test_real_kent_file(shared_data: Path) -> None:
    path = shared_data / "police/kent_full/2022-01-kent-street.csv"
    (rec,) = read_police(path)
    assert rec.source == KENT
    assert len(rec.frame) == 16_338
    assert rec.frame.index[0] == 2 and rec.frame.index[-1] == 16_339
    assert set(rec.frame["Month"]) == {"2022-01"}


# --------------------------------------------------------------------------- bad files


@dataclass
class Bad:
    """A bad file: its bytes, where the error must point, and what it must say."""

    name: str
    data: bytes
    row: int | None
    field: str | None
    says: str  # regex on the message
    member: str | None = None  # path inside a zip, when the error is about a member


def _good_text(police_csv, n: int = 4) -> str:
    return "\n".join(police_csv.lines(month_rows(police_csv, "2022-03", n))) + "\n"


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def bad_files(police_csv) -> list[Bad]:
    header = ",".join(POLICE_COLUMNS)
    good = _good_text(police_csv)
    lines = good.rstrip("\n").split("\n")
    # binary: random bytes (fixed seed) that hold NULs; the error names the NUL's line
    noise = np.random.default_rng(5).bytes(3000)
    noise = b"id,value\n" + noise.replace(b"\x00", b"") + b"\x00" + noise
    noise_row = noise[: noise.index(b"\x00")].count(b"\n") + 1
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256))
    # truncated: the last line cut inside its Location cell (5 complete cells + a part)
    last = lines[-1].split(",")
    cut = ",".join(last[:6]) + "," + last[6][:7]
    no_lon = [",".join(c for i, c in enumerate(line.split(",")) if i != 4) for line in lines]
    bng_rows = month_rows(police_csv, "2022-03", 3)
    for i, r in enumerate(bng_rows):
        r[4], r[5] = f"{564800 + i * 10}", f"{174200 + i * 10}"
    corrupt = bytearray(_zip_bytes({"2022-03/2022-03-kent-street.csv": good.encode()}))
    body = corrupt.index(b"Crime ID")
    corrupt[body + 200 : body + 210] = b"XXXXXXXXXX"  # member bytes no longer match the CRC
    return [
        Bad("empty", b"", None, None, r"empty; expected a header row and data rows"),
        Bad("blank lines", b"\n\r\n  \n", None, None, r"empty"),
        Bad("header only", (header + "\n").encode(), 2, None, r"header but no data rows"),
        Bad(
            "missing Longitude",
            ("\n".join(no_lon) + "\n").encode(),
            1,
            "Longitude",
            r"missing column\(s\) \['Longitude'\]; expected the 12 columns",
        ),
        Bad(
            "repeated column",
            (header + ",Crime ID\n" + lines[1] + ",x\n").encode(),
            1,
            None,
            r"repeats column\(s\) \['Crime ID'\]",
        ),
        Bad("binary", noise, noise_row, None, r"binary data \(NUL bytes\); expected a CSV"),
        Bad("png renamed", png, 3, None, r"binary data"),  # the NUL after "\x89PNG\r\n\x1a\n"
        Bad(
            "truncated",
            ("\n".join([*lines[:-1], cut])).encode(),
            len(lines),
            "LSOA code",
            r"expected 12 fields, found 7 — the file seems truncated mid-row",
        ),
        Bad(
            "extra cell",
            ("\n".join([*lines[:2], lines[2] + ",surplus", *lines[3:]]) + "\n").encode(),
            3,
            None,
            r"expected 12 fields, found 13",
        ),
        Bad(
            "utf-16",
            good.encode("utf-16"),
            None,
            None,
            r"UTF-16 encoded; expected UTF-8 or Windows-1252",
        ),
        Bad("utf-16 no BOM", good.encode("utf-16-le"), 1, None, r"looks UTF-16 encoded"),
        Bad(
            "not cp1252",
            (good + lines[1].replace("Kent Police", "Kent \x81Police") + "\n").encode("latin-1"),
            len(lines) + 1,
            None,
            r"byte 0x81 is neither UTF-8 nor Windows-1252",
        ),
        Bad(
            "bng in lon/lat",
            ("\n".join(police_csv.lines(bng_rows)) + "\n").encode(),
            2,
            "Longitude",
            r"declared WGS84 longitude/latitude but hold British National Grid",
        ),
        Bad(
            "xlsx renamed",
            _zip_bytes({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}),
            None,
            None,
            r"no police.uk street-level CSV",
        ),
        Bad(
            "damaged zip",
            bytes(corrupt),
            None,
            None,
            r"the zip archive is damaged",
        ),
        Bad(
            "pdf renamed",
            b"%PDF-1.7\n" + good.encode(),
            None,
            None,
            r"this is a PDF document, not a CSV text file",
        ),
    ]


BAD_NAMES = [
    "empty",
    "blank lines",
    "header only",
    "missing Longitude",
    "repeated column",
    "binary",
    "png renamed",
    "truncated",
    "extra cell",
    "utf-16",
    "utf-16 no BOM",
    "not cp1252",
    "bng in lon/lat",
    "xlsx renamed",
    "damaged zip",
    "pdf renamed",
]


def write_bad(folder: Path, bad: Bad) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "2022-03-kent-street.csv"
    path.write_bytes(bad.data)
    return path


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_file_says_where_and_what(name: str, tmp_path: Path, police_csv) -> None:
    (bad,) = [b for b in bad_files(police_csv) if b.name == name]
    path = write_bad(tmp_path, bad)
    with pytest.raises(InputFileError) as err:
        read_all(path)
    e = err.value
    assert e.path == str(path), e.path
    assert (e.row, e.field) == (bad.row, bad.field), str(e)
    assert re.search(bad.says, str(e)), str(e)
    assert str(e).startswith(f"file {path}")
    assert isinstance(e, ValueError) and e.status == 422
    assert e.to_dict()["row"] == bad.row and e.to_dict()["file"] == str(path)


def test_zip_bytes_in_a_csv_reader_are_named(police_csv) -> None:
    data = _zip_bytes({"xl/workbook.xml": b"<workbook/>"})
    with pytest.raises(InputFileError, match=r"a zip archive \(or an Excel .xlsx workbook\)"):
        read_police_bytes(data, "export.csv")


def test_missing_paths(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such file or folder") as err:
        list(read_police(tmp_path / "nope.csv"))
    assert err.value.path == str(tmp_path / "nope.csv")
    (tmp_path / "2022-01-kent-outcomes.csv").write_text("Crime ID\n1\n")
    with pytest.raises(InputFileError, match=r"no police\.uk street-level CSV") as err:
        list(read_police(tmp_path))
    assert err.value.path == str(tmp_path)


def state(store: Store) -> tuple:
    return (
        [b.to_dict() for b in store.list_batches()],
        store.count_incidents(),
        store.query_incidents(),
        store.read_quarantine(),
    )


def test_bad_files_change_nothing_stored(store: Store, tmp_path: Path, police_csv) -> None:
    good = police_csv.write(
        tmp_path / "good" / "2022-03-kent-street.csv", month_rows(police_csv, "2022-03", 8)
    )
    import_records(store, read_police(good))
    before = state(store)
    assert before[1] == 8
    for bad in bad_files(police_csv):
        path = write_bad(tmp_path / bad.name.replace(" ", "_"), bad)
        with pytest.raises(InputFileError):
            import_records(store, read_police(path))
        # ... also after a good file of another month in the same import
        other = police_csv.write(
            path.parent / "2022-02-kent-street.csv", month_rows(police_csv, "2022-02", 3)
        )
        with pytest.raises(InputFileError):
            import_records(store, read_police(path.parent))
        other.unlink()
        after = state(store)
        assert after[0] == before[0], bad.name
        assert after[1] == before[1], bad.name
        assert after[2].equals(before[2]) and after[3].equals(before[3]), bad.name
