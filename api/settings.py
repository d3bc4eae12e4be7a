"""Settings of the web service, from ``HOTSPOTS_*`` environment variables, validated.

Read in :func:`api.app.create_app` (or passed in), never at import time.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from geodata.settings import StoreSettings
from maps.settings import MapSettings

PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "hotspots", "password", "dev", "test"}


class ApiSettings(BaseSettings):
    """The service's own settings (the store's are :class:`geodata.settings.StoreSettings`)."""

    model_config = SettingsConfigDict(env_prefix="HOTSPOTS_", extra="ignore")

    #: signs share-link tokens; at least 32 characters, not a placeholder
    secret_key: SecretStr
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
    share_link_max_days: int = Field(90, ge=1)
    #: public URL of the service, for links in responses (default: from the request)
    base_url: str | None = None

    @field_validator("secret_key")
    @classmethod
    def _real_secret(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if raw.strip().lower() in PLACEHOLDER_SECRETS or len(raw) < 32:
            raise ValueError(
                "HOTSPOTS_SECRET_KEY must be a random string of at least 32 characters "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`), "
                "not a placeholder"
            )
        return value


class Settings:
    """Everything ``create_app`` needs: the service's and the store's settings."""

    def __init__(
        self,
        api: ApiSettings | None = None,
        store: StoreSettings | None = None,
        maps: MapSettings | None = None,
    ):
        self.api = api or ApiSettings()  # type: ignore[call-arg]
        self.store = store or StoreSettings()
        self.maps = maps or MapSettings()
