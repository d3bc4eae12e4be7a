"""The key that signs share links, for ``hotspots serve``, ``hotspots share`` and the demo.

One code path for all three: ``HOTSPOTS_SECRET_KEY`` when it is set (read, like every
setting, by the root :class:`api.settings.Settings`), else a key kept beside the
embedded store's DuckDB file (``<store>.secret``, made on first
use, readable by its owner only). A store with no file of its own (PostGIS, an
in-memory DuckDB) or a file beside which nothing can be written has no such
place: :class:`NoSecret` then says to set ``HOTSPOTS_SECRET_KEY``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..secret_key import HOW_TO_SET_SECRET as HOW_TO_SET
from ..secret_key import SECRET_VAR as ENV_VAR

if TYPE_CHECKING:
    from ..settings import Settings


class NoSecret(LookupError):
    """No ``HOTSPOTS_SECRET_KEY`` and nowhere beside the store to keep a key."""


@dataclass(frozen=True)
class ServiceSecret:
    """The signing key, where it came from (the variable or the key file) and whether this
    call made the file."""

    value: str
    source: str
    created: bool = False


def service_secret(settings: Settings) -> ServiceSecret:
    """``HOTSPOTS_SECRET_KEY`` of ``settings``, else the key kept beside the embedded
    store's DuckDB file.

    Raises :class:`NoSecret` (naming ``HOTSPOTS_SECRET_KEY``) when the variable is unset
    and there is no file beside which a key can be kept (PostGIS), and
    :class:`~geodata.errors.ConfigurationError` when the variable is a placeholder.
    """
    given = settings.api.secret_key
    if given is not None:
        return ServiceSecret(given.get_secret_value(), ENV_VAR)
    store = settings.store
    return secret_beside(None if store.database_url else store.duckdb_path)


def signing_settings(settings: Settings, secret: ServiceSecret) -> Settings:
    """``settings`` with ``secret`` as the service's signing key, checked like the variable
    (:class:`~geodata.errors.ConfigurationError` naming where a weak key came from)."""
    from pydantic import ValidationError

    from geodata.errors import ConfigurationError

    from ..settings import ApiSettings

    try:
        api = ApiSettings(**{**settings.api.model_dump(), "secret_key": secret.value})
    except ValidationError as exc:
        raise ConfigurationError(
            f"the key in {secret.source} is a placeholder or too short: {HOW_TO_SET}"
        ) from exc
    return settings.with_parts(api=api)


def secret_beside(store_file: str | Path | None) -> ServiceSecret:
    """The key in ``<store_file>.secret``; made on first use with mode 0600 (created with
    that mode, never widened afterwards), so a restart keeps share links valid."""
    if not store_file or str(store_file) == ":memory:":
        raise NoSecret(f"this store has no file to keep a signing key beside: {HOW_TO_SET}")
    keyfile = Path(f"{store_file}.secret")
    created = False
    try:
        keyfile.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise NoSecret(f"cannot write {keyfile} ({exc.strerror or exc}): {HOW_TO_SET}") from exc
    else:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_urlsafe(48) + "\n")
        created = True
    try:
        value = keyfile.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise NoSecret(f"cannot read {keyfile} ({exc.strerror or exc}): {HOW_TO_SET}") from exc
    return ServiceSecret(value, str(keyfile), created)
