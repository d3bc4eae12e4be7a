"""The product's settings: one root object, :class:`Settings`, from ``HOTSPOTS_*`` variables.

Every door builds one :class:`Settings` where it starts (:func:`api.app.create_app`,
:func:`api.cli.common.cli_settings`) and passes it, or the part a use case needs, down;
no other module reads the environment. Each part (the service's, the store's, imports',
the maps') is read from the environment when first asked for, so a command that never
signs a link is not stopped by a bad ``HOTSPOTS_SECRET_KEY``; a bad value is a
:class:`~geodata.errors.ConfigurationError` naming its variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from geodata.errors import ConfigurationError

from .secret_key import HOW_TO_SET_SECRET, SECRET_VAR

if TYPE_CHECKING:  # imported when first asked for: `hotspots --help` loads no data stack
    from geodata.settings import IngestSettings, StoreSettings
    from maps.settings import MapSettings


class ComputeSettings(BaseSettings):
    """Where analyses run. Unset, in the process that asks (nothing else changes)."""

    model_config = SettingsConfigDict(env_prefix="HOTSPOTS_", extra="ignore")

    #: run DBSCAN, Gi* and emerging hot spots on a Dask cluster: a scheduler address
    #: (``tcp://scheduler:8786``) or ``local`` (worker processes on this machine; the
    #: command line's choice, not the service's: see README "Beyond one machine")
    dask_scheduler: str | None = None
    #: H3 resolution of the partitions: 4, 5 or 6 (≈ 1,770, 250 or 36 km² each)
    dask_parent_res: int = 5

    @field_validator("dask_scheduler")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from hotspots.scaleout.engine import check_address

        return check_address(value)

    @field_validator("dask_parent_res")
    @classmethod
    def _parent(cls, value: int) -> int:
        from hotspots.scaleout.partition import check_parent_res

        return check_parent_res(value)


PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "hotspots", "password", "dev", "test"}


class ApiSettings(BaseSettings):
    """The service's own settings (the store's are :class:`geodata.settings.StoreSettings`)."""

    model_config = SettingsConfigDict(env_prefix="HOTSPOTS_", extra="ignore")

    #: signs share-link tokens; at least 32 characters, not a placeholder. Unset, the
    #: commands that sign links use a key kept beside the embedded store (api.cli.secret)
    secret_key: SecretStr | None = None
    #: counts below this are suppressed for the public role
    public_min_count: int = Field(5, ge=1)
    #: public counts are rounded to the nearest multiple of this
    public_rounding: int = Field(5, ge=1, le=100)
    #: below analyst, hotspots and plan sites on fewer distinct places are withheld
    min_places: int = Field(3, ge=1, le=100)
    max_upload_mb: float = Field(50.0, gt=0)
    max_bbox_km2: float = Field(5_000.0, gt=0)
    max_window_days: int = Field(3_700, ge=1)
    default_page_size: int = Field(1_000, ge=1)
    max_page_size: int = Field(10_000, ge=1)
    #: most features in one vector tile built in Python (the embedded store; the
    #: server store's incident tiles are built by PostGIS and have no such cap)
    max_tile_features: int = Field(200_000, ge=1)
    request_timeout_s: float = Field(30.0, gt=0)
    #: requests served at once by worker threads (the others wait their turn on the event
    #: loop): a few threads finish each request sooner than many sharing the interpreter
    #: (OGC load at 50 clients, p99 ~145 ms with 8 against ~200-290 ms with 40, anyio's
    #: default); raise it when many slow requests (analyses, plans) must run at once
    worker_threads: int = Field(8, ge=1, le=1000)
    #: threads of their own for OGC feature pages, single features and vector tiles, the
    #: short reads GIS clients send many of at once (:mod:`api.read_lane`)
    read_threads: int = Field(2, ge=1, le=1000)
    share_link_max_days: int = Field(90, ge=1)
    #: public URL of the service, for links in responses (default: from the request)
    base_url: str | None = None

    @field_validator("secret_key")
    @classmethod
    def _real_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value()
        if raw.strip().lower() in PLACEHOLDER_SECRETS or len(raw) < 32:
            raise ValueError(
                "HOTSPOTS_SECRET_KEY must be a random string of at least 32 characters "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`), "
                "not a placeholder"
            )
        return value


class Settings:
    """The root settings object: the service's, the store's, imports', the maps' and where
    analyses run (``compute``).

    A part given to the constructor is used as it is; a part left out is read from the
    ``HOTSPOTS_*`` variables the first time it is asked for (then kept).
    """

    def __init__(
        self,
        api: ApiSettings | None = None,
        store: StoreSettings | None = None,
        maps: MapSettings | None = None,
        ingest: IngestSettings | None = None,
        compute: ComputeSettings | None = None,
    ):
        given = (("api", api), ("store", store), ("maps", maps), ("ingest", ingest))
        self._parts: dict[str, object] = {
            k: v for k, v in (*given, ("compute", compute)) if v is not None
        }

    @classmethod
    def from_env(cls, store_file: Path | None = None) -> Settings:
        """The settings of the environment; ``store_file`` names a DuckDB file to use instead
        of the configured store (the command line's ``--store``)."""
        settings = cls()
        if store_file is not None:
            settings._parts["store"] = settings.store.model_copy(
                update={"duckdb_path": store_file, "database_url": None}
            )
        return settings

    def _part(self, name: str, module: str, kind: str):
        if name not in self._parts:
            import importlib

            try:
                self._parts[name] = getattr(importlib.import_module(module), kind)()
            except ValidationError as exc:
                raise ConfigurationError(setting_problem(exc)) from exc
        return self._parts[name]

    @property
    def api(self) -> ApiSettings:
        return self._part("api", __name__, "ApiSettings")

    @property
    def store(self) -> StoreSettings:
        return self._part("store", "geodata.settings", "StoreSettings")

    @property
    def maps(self) -> MapSettings:
        return self._part("maps", "maps.settings", "MapSettings")

    @property
    def ingest(self) -> IngestSettings:
        return self._part("ingest", "geodata.settings", "IngestSettings")

    @property
    def compute(self) -> ComputeSettings:
        return self._part("compute", __name__, "ComputeSettings")

    def with_parts(self, **parts: BaseSettings) -> Settings:
        """A copy with some parts replaced (e.g. ``api=`` with the signing key found)."""
        copy = Settings()
        copy._parts = {**self._parts, **parts}
        return copy

    def signing_key(self) -> str:
        """The key that signs share links; :class:`ConfigurationError` naming
        ``HOTSPOTS_SECRET_KEY`` when none is set."""
        key = self.api.secret_key
        if key is None:
            raise ConfigurationError(f"{SECRET_VAR} is not set: {HOW_TO_SET_SECRET}")
        return key.get_secret_value()


def setting_problem(exc: ValidationError) -> str:
    """The first problem in a settings object, naming its ``HOTSPOTS_*`` variable (never a
    raw pydantic dump, which for the secret could echo the bad value)."""
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    if field == "secret_key":
        return f"{SECRET_VAR} is a placeholder or too short: {HOW_TO_SET_SECRET}"
    return f"HOTSPOTS_{field.upper()}: {first['msg']}"
