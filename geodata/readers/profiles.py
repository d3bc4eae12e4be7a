"""Column-mapping profiles for council exports: TOML files naming which header holds
what (the format is described in :mod:`geodata.readers.council`), loaded and checked
with errors that name the file, section and key."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pyproj import CRS
from pyproj.exceptions import CRSError

from ..errors import ProfileError
from ..taxonomy import BY_SLUG

SECTIONS = ("profile", "columns", "categories", "attributes")
PROFILE_KEYS = ("name", "description", "category", "crs", "date_format", "sheet")
COLUMN_KEYS = (
    "reference", "date", "time", "type", "easting", "northing", "longitude", "latitude",
    "street", "ward", "lsoa",
)  # fmt: skip
ONS_CODE = re.compile(r"^[EWSNK]\d{8}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class Profile:
    """A parsed, checked column-mapping profile.

    ``columns`` maps the keys of ``[columns]`` to headers; ``crs`` is ``"auto"``
    or ``"EPSG:nnnn"`` (filled in from the coordinate keys when the file gives
    none); ``category``, ``date_format`` and ``sheet`` are ``None`` when unset.
    """

    name: str
    path: str
    description: str = ""
    category: str | None = None
    crs: str = "auto"
    date_format: str | None = None
    sheet: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """Default source name: ``council/<name>``."""
        return f"council/{self.name}"

    @property
    def coords(self) -> str:
        """The ``RawRecords.coords`` value: ``auto``, ``lonlat``, ``bng`` or a CRS."""
        return {"EPSG:4326": "lonlat", "EPSG:27700": "bng"}.get(self.crs, self.crs)

    @property
    def uses_lonlat(self) -> bool:
        return "longitude" in self.columns


# --------------------------------------------------------------------------- profiles


def _profiles_dir():
    return resources.files("geodata") / "profiles"


def list_profiles() -> list[str]:
    """Names of the profiles shipped in ``geodata/profiles`` (without ``.toml``), sorted."""
    return sorted(
        entry.name[: -len(".toml")]
        for entry in _profiles_dir().iterdir()
        if entry.name.endswith(".toml") and entry.is_file()
    )


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a profile by shipped name (``"flytipping"``) or by the path of a TOML file.

    A string holding a path separator or ending in ``.toml``, or any
    :class:`~pathlib.Path`, is read as a file; anything else is looked up in
    ``geodata/profiles``. Raises :class:`~geodata.errors.ProfileError` naming
    the file and the offending key (or listing the known profiles).
    """
    text_name = str(name_or_path)
    is_path = (
        isinstance(name_or_path, Path)
        or text_name.endswith(".toml")
        or "/" in text_name
        or "\\" in text_name
    )
    if is_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise ProfileError(f"profile file {path} does not exist")
        where, text = str(path), path.read_text(encoding="utf-8-sig")
        stem = path.stem
    else:
        resource = _profiles_dir() / f"{text_name}.toml"
        if not _NAME.match(text_name) or not resource.is_file():
            known = ", ".join(list_profiles()) or "(none)"
            raise ProfileError(
                f"unknown profile {text_name!r}; known profiles: {known} "
                "(or give the path of a .toml profile file)"
            )
        where, text = str(resource), resource.read_text(encoding="utf-8")
        stem = text_name
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile {where}: not valid TOML: {exc}") from exc
    return _parse_profile(data, where, stem)


def profile_where(profile: Profile) -> str:
    """A shipped profile by name (its install path says nothing to a web client); a
    user's profile file by its path."""
    shipped = Path(profile.path).parent == Path(str(_profiles_dir()))
    return f"shipped as {Path(profile.path).name}" if shipped else profile.path


def _table(data: dict, section: str, where: str) -> dict[str, str]:
    value = data.get(section, {})
    if not isinstance(value, dict):
        raise ProfileError(f'profile {where}: [{section}] must be a table of key = "value" pairs')
    for key, item in value.items():
        if not isinstance(item, str):
            raise ProfileError(
                f"profile {where}: [{section}] {key} must be a string, got {type(item).__name__}"
            )
    return value


def _check_keys(table: dict, allowed: tuple[str, ...], section: str, where: str) -> None:
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise ProfileError(
            f"profile {where}: unknown key(s) {unknown} in [{section}]; "
            f"expected some of: {', '.join(allowed)}"
        )


def _slug(value: str, what: str, where: str) -> str:
    if value not in BY_SLUG:
        raise ProfileError(
            f"profile {where}: {what} = {value!r} is not a taxonomy category; "
            f"expected one of: {', '.join(sorted(BY_SLUG))}"
        )
    return value


def _parse_crs(value: str, lonlat: bool, where: str) -> str:
    if value.strip().lower() == "auto":
        return "auto"
    try:
        parsed = CRS.from_user_input(value)
    except CRSError as exc:
        raise ProfileError(
            f"profile {where}: [profile] crs = {value!r} is not a CRS; "
            "expected auto, EPSG:4326 or EPSG:27700"
        ) from exc
    auth = parsed.to_authority() or parsed.to_authority(min_confidence=50)
    crs = f"{auth[0]}:{auth[1]}" if auth else parsed.to_wkt()
    if auth == ("OGC", "CRS84"):
        crs = "EPSG:4326"
    if lonlat and parsed.is_projected:
        raise ProfileError(
            f"profile {where}: [profile] crs = {value!r} is projected (metres) but [columns] "
            "maps longitude/latitude; map easting/northing instead, or use EPSG:4326"
        )
    if not lonlat and parsed.is_geographic:
        raise ProfileError(
            f"profile {where}: [profile] crs = {value!r} is in degrees but [columns] maps "
            "easting/northing; map longitude/latitude instead, or use a projected CRS"
        )
    return crs


def _parse_profile(data: dict[str, Any], where: str, stem: str) -> Profile:
    unknown = [k for k in data if k not in SECTIONS]
    if unknown:
        raise ProfileError(
            f"profile {where}: unknown section(s) {unknown}; "
            f"expected [profile], [columns], [categories] and [attributes]"
        )
    head = _table(data, "profile", where)
    _check_keys(head, PROFILE_KEYS, "profile", where)
    columns = {k: v.strip() for k, v in _table(data, "columns", where).items()}
    _check_keys(columns, COLUMN_KEYS, "columns", where)
    for key, header in columns.items():
        if not header:
            raise ProfileError(f"profile {where}: [columns] {key} is empty; give a header name")
    categories = _table(data, "categories", where)
    for raw, slug in categories.items():
        _slug(slug, f"[categories] {raw!r}", where)
    attributes = {k: v.strip() for k, v in _table(data, "attributes", where).items()}
    for key, header in attributes.items():
        if not header:
            raise ProfileError(f"profile {where}: [attributes] {key} is empty; give a header name")

    name = head.get("name", stem).strip()
    if not _NAME.match(name):
        raise ProfileError(
            f"profile {where}: [profile] name = {name!r} must be lower-case letters, digits, "
            "'-' or '_' (it becomes the source name council/<name>)"
        )
    category = head.get("category", "").strip() or None
    if category:
        _slug(category, "[profile] category", where)

    bng = [k for k in ("easting", "northing") if k in columns]
    lonlat = [k for k in ("longitude", "latitude") if k in columns]
    if bng and lonlat:
        raise ProfileError(
            f"profile {where}: [columns] maps both {bng} and {lonlat}; "
            "map either easting/northing or longitude/latitude"
        )
    if not bng and not lonlat:
        raise ProfileError(
            f"profile {where}: [columns] maps no coordinates; "
            "expected easting + northing or longitude + latitude"
        )
    pair = bng or lonlat
    if len(pair) == 1:
        other = {"easting": "northing", "northing": "easting", "longitude": "latitude",
                 "latitude": "longitude"}[pair[0]]  # fmt: skip
        raise ProfileError(f"profile {where}: [columns] maps {pair[0]} but not {other}")
    if "date" not in columns:
        raise ProfileError(f"profile {where}: [columns] date is missing; every incident needs one")
    if "type" not in columns and not category:
        raise ProfileError(
            f"profile {where}: no category: map [columns] type or set [profile] category"
        )

    crs_text = head.get("crs", "").strip()
    crs = (
        _parse_crs(crs_text, bool(lonlat), where)
        if crs_text
        else ("EPSG:4326" if lonlat else "EPSG:27700")
    )
    date_format = head.get("date_format", "").strip() or None
    if date_format and "%" not in date_format:
        raise ProfileError(
            f"profile {where}: [profile] date_format = {date_format!r} has no % directives; "
            "expected a strptime format such as '%d/%m/%Y %H:%M'"
        )
    return Profile(
        name=name,
        path=where,
        description=head.get("description", "").strip(),
        category=category,
        crs=crs,
        date_format=date_format,
        sheet=head.get("sheet", "").strip() or None,
        columns=columns,
        categories=dict(categories),
        attributes=attributes,
    )


__all__ = ["ONS_CODE", "Profile", "list_profiles", "load_profile", "profile_where"]
