"""The maps' browser assets: Leaflet and its plugins, pinned in ``maps/vendor.txt``.

They are fetched from the npm registry at install time by
``scripts/fetch-assets.sh`` into ``maps/static/vendor/`` (never committed),
served by the API under ``/static/vendor/`` and inlined into a standalone
map file, so a map never asks a CDN for anything.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path

from geodata.errors import HotspotsError

PACKAGE_DIR = Path(__file__).resolve().parent
MANIFEST = PACKAGE_DIR / "vendor.txt"
VENDOR_DIR = PACKAGE_DIR / "static" / "vendor"
#: where the API mounts VENDOR_DIR
STATIC_PREFIX = "/static/vendor"
FETCH_HINT = "run `bash scripts/fetch-assets.sh` (make venv does) to fetch them from npm"

_MIME = {".png": "image/png", ".svg": "image/svg+xml"}
_CSS_URL = re.compile(r"url\((['\"]?)([^)'\"]+)\1\)")
_SOURCE_MAP = re.compile(r"^\s*//# sourceMappingURL=.*$|/\*# sourceMappingURL=.*?\*/", re.M)


class MissingAssets(HotspotsError, RuntimeError):
    """The vendored browser assets are absent (the install step did not run)."""

    type = "missing-assets"


@dataclass(frozen=True)
class VendorPackage:
    name: str
    version: str
    integrity: str
    files: tuple[str, ...]

    @property
    def scripts(self) -> list[str]:
        return [f"{self.name}/{f}" for f in self.files if f.endswith(".js")]

    @property
    def stylesheets(self) -> list[str]:
        return [f"{self.name}/{f}" for f in self.files if f.endswith(".css")]


def read_manifest(path: Path = MANIFEST) -> list[VendorPackage]:
    """The pinned packages of ``maps/vendor.txt``, in load order."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 4 or not parts[2].startswith("sha512-"):
            raise ValueError(
                f"{path}:{number}: expected 'name version sha512-… file…'; received {line!r}"
            )
        out.append(VendorPackage(parts[0], parts[1], parts[2], tuple(parts[3:])))
    return out


def missing_files(vendor_dir: Path = VENDOR_DIR) -> list[str]:
    """Relative paths of the pinned files that are not in ``vendor_dir`` (empty: all there)."""
    return [
        f"{p.name}/{f}"
        for p in read_manifest()
        for f in p.files
        if not (vendor_dir / p.name / f).is_file()
    ]


def check_assets(vendor_dir: Path = VENDOR_DIR) -> None:
    """Raise :class:`MissingAssets` naming the absent files and how to fetch them."""
    missing = missing_files(vendor_dir)
    if missing:
        raise MissingAssets(
            f"map assets missing from {vendor_dir}: {', '.join(missing[:4])}"
            f"{' …' if len(missing) > 4 else ''}; {FETCH_HINT}"
        )


def _data_uri(path: Path) -> str:
    mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _inline_css(path: Path) -> str:
    """A stylesheet with its relative ``url(...)`` images turned into data URIs."""

    def repl(match: re.Match) -> str:
        target = match.group(2)
        if target.startswith(("data:", "#", "http:", "https:")):
            return match.group(0)
        file = (path.parent / target).resolve()
        if not file.is_file():  # e.g. IE-only references; leave them out
            return "url()"
        return f'url("{_data_uri(file)}")'

    return _SOURCE_MAP.sub("", _CSS_URL.sub(repl, path.read_text(encoding="utf-8")))


def asset_tags(mode: str = "link", base_url: str = STATIC_PREFIX) -> str:
    """The ``<link>``/``<script>`` tags (``mode="link"``, served from ``base_url``) or
    the assets' text inlined (``mode="inline"``), stylesheets first.

    Examples
    --------
    >>> 'leaflet/dist/leaflet.js' in asset_tags("link", "/static/vendor")
    True
    """
    packages = read_manifest()
    if mode == "link":
        base = base_url.rstrip("/")
        css = [
            f'<link rel="stylesheet" href="{html.escape(base)}/{s}">'
            for p in packages
            for s in p.stylesheets
        ]
        js = [
            f'<script src="{html.escape(base)}/{s}"></script>' for p in packages for s in p.scripts
        ]
        return "\n".join(css + js)
    if mode != "inline":
        raise ValueError(f"asset mode must be 'link' or 'inline'; received {mode!r}")
    check_assets()
    css = [
        f"<style>/* {p.name} {p.version} */\n{_inline_css(VENDOR_DIR / s)}</style>"
        for p in packages
        for s in p.stylesheets
    ]
    js = []
    for p in packages:
        for s in p.scripts:
            text = _SOURCE_MAP.sub("", (VENDOR_DIR / s).read_text(encoding="utf-8"))
            text = text.replace("</script", "<\\/script")
            js.append(f"<script>/* {p.name} {p.version} */\n{text}</script>")
    return "\n".join(css + js)
