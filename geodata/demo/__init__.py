"""The demo dataset: real police.uk data for Gravesham (Kent), 2022, with boundaries.

See ``README.md`` in this folder for sources and licences.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..ingest import context_for, import_records
from ..model import ImportReport
from ..readers.areas import read_boundaries, read_population
from ..readers.police import read_police
from ..settings import IngestSettings
from ..stores.base import Progress, Store

ATTRIBUTION = (
    "Contains public sector information licensed under the Open Government Licence v3.0. "
    "Contains OS data © Crown copyright and database right."
)
#: Incidents up to this far outside Gravesham are kept, so hotspots on the border are whole.
STUDY_AREA_BUFFER_M = 2_000.0


def demo_dir() -> Path:
    return Path(str(resources.files(__package__)))


@dataclass
class DemoSummary:
    boundaries: dict[str, int]
    population_total: float
    report: ImportReport

    def to_dict(self) -> dict:
        return {
            "boundaries": self.boundaries,
            "population_total": self.population_total,
            "import": self.report.to_dict(),
            "attribution": ATTRIBUTION,
        }


def load_demo(
    store: Store,
    progress: Progress | None = None,
    on_file=None,
    *,
    sensitive_categories: frozenset[str] | None = None,
) -> DemoSummary:
    """Load Gravesham's boundaries, population and 2022 police.uk data into ``store``.

    Loading twice changes nothing the second time (the import is idempotent).
    ``sensitive_categories`` replaces the configured sensitive categories for
    this import (tests use it to give role rules something to hide).
    """
    folder = demo_dir()
    counts = {}
    for kind, name in (
        ("district", "gravesham-district.geojsonl"),
        ("ward", "gravesham-wards-2013.geojson"),
        ("lsoa", "gravesham-lsoa-2011.geojson"),
    ):
        areas = read_boundaries(folder / name, kind, analysis_crs=store.analysis_crs)
        counts[kind] = store.replace_boundaries(kind, areas)
    population = read_population(
        folder / "gravesham-lsoa11-population-mid2019.csv", kind="lsoa", year=2019
    )
    store.replace_population("lsoa", population)
    settings = IngestSettings(
        study_area=folder / "gravesham-district.geojsonl", study_area_buffer_m=STUDY_AREA_BUFFER_M
    )
    if sensitive_categories is not None:
        settings = settings.model_copy(update={"sensitive_categories": sensitive_categories})
    ctx = context_for(store, settings)
    report = import_records(
        store,
        read_police(folder / "gravesham-police-2022.zip"),
        ctx,
        progress=progress,
        on_file=on_file,
    )
    return DemoSummary(counts, float(population["population"].sum()), report)
