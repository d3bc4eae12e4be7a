"""Stores: :class:`DuckDBStore` (embedded default) and :class:`PostGISStore` (server)."""

from __future__ import annotations

from ..errors import StoreUnavailable
from ..settings import StoreSettings
from . import sharing
from .base import IncidentQuery, Store, to_geodataframe
from .duckdb_store import DuckDBStore


def open_store(
    settings: StoreSettings | None = None, *, upgrade: bool = True, via_service: bool = True
) -> Store:
    """Open the store the settings name: PostGIS when a database URL is set, else DuckDB.

    A DuckDB file held by a running service (``hotspots serve``) is reached through
    that service (:mod:`geodata.stores.sharing`) unless ``via_service`` is false (the
    service itself, which also answers incident reads from memory:
    :mod:`geodata.stores.point_cache`)."""
    settings = settings or StoreSettings()
    if settings.database_url:
        from .postgis import PostGISStore

        return PostGISStore(
            settings.database_url,
            settings.analysis_crs,
            upgrade=upgrade,
            max_size=settings.pool_max_size,
            timeout_s=settings.connect_timeout_s,
            migrations=settings.migrations_dir,
        )
    try:
        memory = 0 if via_service else settings.point_cache_rows
        return DuckDBStore(settings.duckdb_path, settings.analysis_crs, memory_rows=memory)
    except StoreUnavailable:
        if not via_service:
            raise
        remote = sharing.connect(settings.duckdb_path, settings.analysis_crs)
        if remote is None:
            raise
        return remote


__all__ = ["DuckDBStore", "IncidentQuery", "Store", "open_store", "to_geodataframe"]
