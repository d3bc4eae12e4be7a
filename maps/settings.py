"""Settings of the maps, from ``HOTSPOTS_*`` environment variables (read in a factory)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)


class MapSettings(BaseSettings):
    """Base map of every map page: ``HOTSPOTS_TILE_URL`` (a Leaflet ``{z}/{x}/{y}``
    template) and ``HOTSPOTS_TILE_ATTRIBUTION`` (HTML).

    Police networks may block OpenStreetMap: point the URL at a tile server they
    allow. When tiles fail the map still shows every layer on a plain background.
    """

    model_config = SettingsConfigDict(env_prefix="HOTSPOTS_", extra="ignore")

    tile_url: str = OSM_TILES
    tile_attribution: str = OSM_ATTRIBUTION
