"""Settings of the data layer, read from ``HOTSPOTS_*`` environment variables.

Nothing is read at import time: call :func:`StoreSettings` / :func:`IngestSettings`
(or pass values) where a command or the app factory starts.

==================================  =====================================================
variable                            meaning
==================================  =====================================================
``HOTSPOTS_DATABASE_URL``           PostGIS URL; unset → the embedded DuckDB file
``HOTSPOTS_DUCKDB_PATH``            the DuckDB file (default ``./hotspots.duckdb``)
``HOTSPOTS_ANALYSIS_CRS``           projected CRS for x/y metres (default EPSG:27700)
``HOTSPOTS_CONNECT_TIMEOUT_S``      wait for the PostGIS server when connecting (default 1)
``HOTSPOTS_POINT_CACHE_ROWS``       the server on a DuckDB file answers incident reads from
                                    memory up to this many incidents (default 1,000,000,
                                    about 260 bytes each; 0: never)
``HOTSPOTS_MIGRATIONS_DIR``         another folder of PostGIS migrations (tests, forks)
``HOTSPOTS_STUDY_AREA``             boundary file; rows outside are quarantined
``HOTSPOTS_STUDY_AREA_BUFFER_M``    buffer round the study area, metres (default 0)
``HOTSPOTS_SENSITIVE_CATEGORIES``   comma-separated slugs (default domestic-abuse,
                                    sexual-offences)
==================================  =====================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .crs import check_crs
from .taxonomy import DEFAULT_SENSITIVE, validate_slugs


class StoreSettings(BaseSettings):
    """Where incidents are stored."""

    model_config = SettingsConfigDict(env_prefix="HOTSPOTS_", extra="ignore")

    database_url: str | None = None
    duckdb_path: Path = Path("hotspots.duckdb")
    analysis_crs: str = "EPSG:27700"
    pool_max_size: int = 4
    #: how long to wait for the PostGIS server when connecting, seconds
    connect_timeout_s: float = Field(1.0, gt=0)
    #: another folder of PostGIS migrations (default: the shipped ``migrations/``)
    migrations_dir: Path | None = None
    #: most incidents the server of a DuckDB file holds in memory for reads
    #: (:mod:`geodata.stores.point_cache`; 0: none)
    point_cache_rows: int = Field(1_000_000, ge=0)

    @field_validator("analysis_crs")
    @classmethod
    def _crs(cls, value: str) -> str:
        return check_crs(value)

    @field_validator("database_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "HOTSPOTS_DATABASE_URL must be a postgresql:// URL; leave it unset for the "
                "embedded DuckDB store"
            )
        return value


class IngestSettings(BaseSettings):
    """How imports are validated."""

    model_config = SettingsConfigDict(env_prefix="HOTSPOTS_", extra="ignore")

    study_area: Path | None = None
    study_area_buffer_m: float = 0.0
    sensitive_categories: Annotated[frozenset[str], NoDecode] = DEFAULT_SENSITIVE
    outlier_distance_m: float = 10_000.0
    #: location texts of recording places, flagged ``artefact-place`` on import and left
    #: out of hotspots and plans by default (``HOTSPOTS_ARTEFACT_PLACES``, comma-separated)
    artefact_places: Annotated[frozenset[str], NoDecode] = frozenset({"on or near police station"})

    @field_validator("artefact_places", mode="before")
    @classmethod
    def _places(cls, value: object) -> frozenset[str]:
        if isinstance(value, str):
            value = value.split(",")
        return frozenset(str(v).strip().lower() for v in value if str(v).strip())  # type: ignore[union-attr]

    @field_validator("sensitive_categories", mode="before")
    @classmethod
    def _split(cls, value: object) -> frozenset[str]:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        return frozenset(validate_slugs(value))  # type: ignore[arg-type]
