"""Harm weights and community-concern profiles sent inline with an analysis request:
the same shapes as the TOML files ``hotspots analyse --harm-weights / --concern``
reads (``hotspots.harm.HarmWeights.from_mapping``,
``hotspots.ranking.ConcernProfile.from_mapping``), declared exactly in the OpenAPI
document."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .params import LINE, TEXT, Bool, CategorySlug, Num


class HarmWeightEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weight: Num = Field(..., ge=0, le=1_000_000)
    provisional: Bool = False
    reasoning: str = Field("", max_length=2000, pattern=TEXT)


class HarmWeightsBody(BaseModel):
    """A harm-weight table: categories left out weigh 1 (and are listed in the run)."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(..., min_length=1, max_length=120, pattern=LINE)
    unit: str = Field("", max_length=120, pattern=LINE)
    weights: dict[CategorySlug, HarmWeightEntry] = Field(..., min_length=1)


class ConcernTheme(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=120, pattern=LINE)
    first_choice_pct: Num = Field(..., ge=0, le=100)
    second_choice_pct: Num | None = Field(None, ge=0, le=100)
    categories: list[CategorySlug] = Field(..., min_length=1, max_length=64)


class ConcernBody(BaseModel):
    """What residents said worries them (e.g. a consultation's first and second choices)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=120, pattern=LINE)
    note: str = Field("", max_length=2000, pattern=TEXT)
    themes: list[ConcernTheme] = Field(..., min_length=1, max_length=50)
