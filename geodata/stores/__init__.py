"""Stores: :class:`DuckDBStore` (embedded default) and :class:`PostGISStore` (server)."""

from __future__ import annotations

from ..settings import StoreSettings
from .base import IncidentQuery, Store, to_geodataframe
from .duckdb_store import DuckDBStore


def open_store(settings: StoreSettings | None = None, *, upgrade: bool = True) -> Store:
    """Open the store the settings name: PostGIS when a database URL is set, else DuckDB."""
    settings = settings or StoreSettings()
    if settings.database_url:
        from .postgis import PostGISStore

        return PostGISStore(
            settings.database_url,
            settings.analysis_crs,
            upgrade=upgrade,
            max_size=settings.pool_max_size,
            timeout_s=settings.connect_timeout_s,
        )
    return DuckDBStore(settings.duckdb_path, settings.analysis_crs)


__all__ = ["DuckDBStore", "IncidentQuery", "Store", "open_store", "to_geodataframe"]
