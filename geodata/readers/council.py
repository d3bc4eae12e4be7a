"""Council exports (CSV or Excel) read through a column-mapping profile.

Every council names its columns differently. A *profile* is a small TOML file
saying which header holds what::

    [profile]
    name = "flytipping"        # source name defaults to "council/<name>"
    description = "..."
    category = "fly-tipping"   # optional: see "Categories" below
    crs = "EPSG:27700"         # auto | EPSG:4326 | EPSG:27700 | any CRS pyproj knows
    date_format = ""           # optional strptime format; default: UK day-first guessing
    sheet = ""                 # optional: Excel sheet name (default: the first sheet)
    [columns]                  # only date, the coordinate pair and type/category are required
    reference = "Case Ref"
    date = "Date Reported"
    time = "Time Reported"
    type = "Waste Type"
    easting = "Easting"        # either easting/northing or longitude/latitude
    northing = "Northing"
    street = "Street"
    ward = "Ward"
    lsoa = "LSOA"
    [categories]               # raw value -> taxonomy slug
    "Black Bags - Household" = "fly-tipping"
    [attributes]               # attribute name -> column, stored in the incident's JSON
    size = "Size"

Categories: with only ``type``, each raw value is mapped through
``[categories]`` and then the taxonomy's aliases (unmatched values become
``other`` with a warning). With only ``category``, every row gets that slug.
With both, every row gets ``category`` unless its raw type is listed in
``[categories]`` (the built-in aliases are not consulted, so a waste type
"Other" stays fly-tipping); the raw type is kept as ``category_raw``.

Coordinates: when ``crs`` is absent, longitude/latitude columns are read as
WGS84 and easting/northing as British National Grid; ``crs = "auto"`` lets
validation detect the system from the values.

Ward / LSOA columns holding ONS codes (``E05004964``) fill ``ward_code`` /
``lsoa_code``; columns holding names are kept as the ``ward`` / ``lsoa``
attribute instead (the codes then come from the boundaries, if loaded).
"""

from __future__ import annotations

import datetime as dt
import io
import warnings
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa

from ..errors import InputFileError
from ..records import FieldMap, RawRecords
from ..taxonomy import normalise
from .limits import ReadLimits
from .profiles import ONS_CODE, Profile, list_profiles, load_profile, profile_where
from .text import decode_text, read_csv_strings

# --------------------------------------------------------------------------- reading


def _fold(header: object) -> str:
    return " ".join(str(header).split()).casefold()


def _match_headers(
    headers: list[str], profile: Profile, name: str, header_row: int
) -> tuple[dict[str, str], dict[str, str]]:
    """Resolve the profile's columns and attributes to the file's own headers."""
    by_fold: dict[str, list[str]] = {}
    for h in headers:
        by_fold.setdefault(_fold(h), []).append(h)
    missing: list[str] = []

    def resolve(wanted: str) -> str | None:
        found = by_fold.get(_fold(wanted), [])
        if len(found) > 1:
            raise InputFileError(
                name,
                f"header {wanted!r} of profile {profile.name!r} matches several columns "
                f"{found}; rename one of them",
                row=header_row,
            )
        if not found:
            missing.append(wanted)
            return None
        return found[0]

    columns = {k: resolve(v) for k, v in profile.columns.items()}
    attributes = {k: resolve(v) for k, v in profile.attributes.items()}
    if missing:
        raise InputFileError(
            name,
            f"missing column(s) {missing} expected by profile {profile.name!r} "
            f"({profile_where(profile)}); the header row has {headers}",
            row=header_row,
            field=missing[0],
        )
    return columns, attributes  # type: ignore[return-value]


def _is_xlsx(data: bytes, name: str, limits: ReadLimits) -> bool:
    """Whether ``data`` is an Excel workbook; its zip directory is checked against
    ``limits`` (a workbook is a zip archive, and can be a zip bomb)."""
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if "xl/workbook.xml" not in archive.namelist():
                return False
            limits.check_zip(name, archive)
            return True
    except zipfile.BadZipFile:
        return False


def _cell_text(value: object, role: str | None, date_format: str | None, has_time: bool):
    """One Excel cell as text; dates become ISO text validation can parse."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value != "" else None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        if role == "time":
            return value.strftime("%H:%M:%S")
        if role == "date" and date_format:
            return value.strftime(date_format)
        if role == "date" and has_time:
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime(date_format) if role == "date" and date_format else value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _read_xlsx(
    data: bytes, name: str, profile: Profile, limits: ReadLimits
) -> tuple[pd.DataFrame, int]:
    """The sheet's rows as strings indexed by Excel row number, and the header's row number."""
    import openpyxl
    from openpyxl.utils import get_column_letter

    with warnings.catch_warnings():
        # openpyxl warns about styles / extensions it ignores; they do not affect values.
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a damaged workbook
            raise InputFileError(name, f"not a readable Excel .xlsx workbook: {exc}") from exc
        try:
            if profile.sheet:
                if profile.sheet not in book.sheetnames:
                    raise InputFileError(
                        name,
                        f"no sheet {profile.sheet!r} (profile {profile.name!r}); "
                        f"sheets found: {book.sheetnames}",
                    )
                sheet = book[profile.sheet]
            else:
                sheet = book.worksheets[0]
            sheet.reset_dimensions()  # trust the cells, not the stored dimension
            rows = []
            for r in sheet.iter_rows(values_only=True):
                rows.append(tuple(r))
                if len(rows) > limits.max_rows + 1:  # + the header row
                    limits.check_rows(name, len(rows) - 1)
        finally:
            book.close()

    def blank(v: object) -> bool:
        return v is None or (isinstance(v, str) and not v.strip())

    numbered = [(i, r) for i, r in enumerate(rows, start=1) if not all(blank(v) for v in r)]
    if not numbered:
        raise InputFileError(name, "the sheet is empty; expected a header row and data rows")
    header_row, header = numbered[0]
    body = numbered[1:]
    if not body:
        raise InputFileError(name, "the sheet has a header but no data rows", row=header_row + 1)
    width = max(len(r) for _, r in numbered)
    while (
        width > 0
        and blank(header[width - 1] if width <= len(header) else None)
        and all(blank(r[width - 1] if width <= len(r) else None) for _, r in body)
    ):
        width -= 1
    headers = [
        str(header[j]).strip() if j < len(header) and not blank(header[j])
        else f"column {get_column_letter(j + 1)}"
        for j in range(width)
    ]  # fmt: skip
    if len(set(headers)) != len(headers):
        dupes = sorted({h for h in headers if headers.count(h) > 1})
        raise InputFileError(name, f"the header repeats column(s) {dupes}", row=header_row)
    columns, _ = _match_headers(headers, profile, name, header_row)
    role = {columns.get("date"): "date", columns.get("time"): "time"}
    has_time = "time" in columns
    values: dict[str, list] = {h: [] for h in headers}
    for _, r in body:
        for j, h in enumerate(headers):
            v = r[j] if j < len(r) else None
            values[h].append(_cell_text(v, role.get(h), profile.date_format, has_time))
    table = pa.table({h: pa.array(v, pa.string()) for h, v in values.items()})
    frame = table.to_pandas()
    frame.index = pd.Index([i for i, _ in body], name="line")
    return frame, header_row


def read_council(
    path: str | Path,
    profile: Profile | str | Path,
    source: str | None = None,
    period: str | None = None,
    limits: ReadLimits | None = None,
) -> RawRecords:
    """Read a council export (CSV or ``.xlsx``) through a profile.

    Parameters
    ----------
    path : CSV (UTF-8, UTF-8 with BOM or Windows-1252) or Excel ``.xlsx`` file
    profile : a :class:`Profile`, a shipped profile name or a profile file path
    source : source name for the batch; default ``council/<profile name>``
    period : batch period label; default: the span of the dates found
    limits : bytes and rows per file, and the zip checks of an Excel workbook; default
        from ``HOTSPOTS_*`` (:class:`~geodata.readers.limits.ReadLimits`)

    Returns
    -------
    RawRecords
        Every row, as text, indexed by line (CSV) or Excel row number. Nothing
        is judged here: pass the result to :func:`geodata.validate.validate`.
        Excel: the first non-blank row is the header; fully blank rows are
        skipped; date cells become ``YYYY-MM-DD HH:MM:SS`` (``YYYY-MM-DD`` when
        a time column is mapped; the profile's ``date_format`` when set), time
        cells ``HH:MM:SS``, whole numbers lose ``.0``; ``encoding`` is ``"xlsx"``.

    Raises
    ------
    InputFileError
        unreadable file, or a header named by the profile is missing (the
        message names the missing headers, the profile and the headers found).
    ProfileError
        the profile cannot be loaded.
    """
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputFileError(name, "no such file; expected a council CSV or .xlsx export")
    limits = limits or ReadLimits()
    limits.check_size(name, path.stat().st_size)
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if _is_xlsx(data, name, limits):
        frame, header_row = _read_xlsx(data, name, prof, limits)
        encoding = "xlsx"
    elif suffix in (".xlsx", ".xlsm"):
        raise InputFileError(name, "expected an Excel .xlsx workbook; the file is not one")
    elif suffix == ".xls" or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputFileError(
            name, "old Excel .xls workbooks are not read; save the sheet as .xlsx or CSV UTF-8"
        )
    else:
        utf8, encoding = decode_text(data, name)
        frame = read_csv_strings(utf8, name, limits=limits)
        header_row = 1
    columns, attributes = _match_headers(list(frame.columns), prof, name, header_row)
    attributes = dict(attributes)

    codes: dict[str, str | None] = {"ward": None, "lsoa": None}
    for key in codes:
        col = columns.get(key)
        if col is None:
            continue
        values = frame[col].dropna().astype(str).str.strip()
        values = values[values != ""]
        if len(values) and values.str.fullmatch(ONS_CODE.pattern).all():
            codes[key] = col
        else:
            attributes.setdefault(key, col)

    category_map = dict(prof.categories)
    fixed = None
    type_col = columns.get("type")
    if prof.category and type_col is None:
        fixed = prof.category
    elif prof.category:
        listed = {normalise(k): v for k, v in prof.categories.items()}
        category_map = {
            raw: listed.get(normalise(raw), prof.category)
            for raw in pd.unique(frame[type_col].dropna().astype(str).str.strip())
            if raw
        }
    x_key, y_key = ("longitude", "latitude") if prof.uses_lonlat else ("easting", "northing")
    fields = FieldMap(
        x=columns[x_key],
        y=columns[y_key],
        date=columns["date"],
        time=columns.get("time"),
        category=type_col,
        source_ref=columns.get("reference"),
        location=columns.get("street"),
        ward_code=codes["ward"],
        lsoa_code=codes["lsoa"],
        attributes=attributes,
    )
    return RawRecords(
        file=name,
        source=source or prof.source,
        frame=frame,
        fields=fields,
        coords=prof.coords,
        date_style="dayfirst",
        date_format=prof.date_format,
        period=period,
        category_map=category_map,
        fixed_category=fixed,
        encoding=encoding,
    )


__all__ = ["Profile", "list_profiles", "load_profile", "read_council"]
