"""Imports: read → validate → store, idempotent and all-or-nothing.

:func:`import_records` validates every file first — a bad file raises
:class:`~geodata.errors.InputFileError` before anything is written — then
compares each batch's content hash with the stored one: identical content is
left alone (``unchanged``), new content for a stored batch replaces it
(``replaced``), and the writes of one import happen in a single transaction.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import numpy as np
import shapely

from .errors import InputFileError
from .model import ImportReport
from .records import RawRecords
from .settings import IngestSettings
from .stores.base import Progress, Store
from .validate import ValidatedBatch, ValidationContext, validate

T = TypeVar("T")


def context_for(store: Store, settings: IngestSettings | None = None) -> ValidationContext:
    """The validation context for imports into ``store``: its CRS and stored boundaries."""
    settings = settings or IngestSettings()
    study_area = name = None
    if settings.study_area is not None:
        from .readers.areas import read_boundaries

        areas = read_boundaries(settings.study_area, "custom", analysis_crs=store.analysis_crs)
        study_area = shapely.union_all(areas.geometry.to_numpy())
        if settings.study_area_buffer_m:
            study_area = study_area.buffer(settings.study_area_buffer_m)
        name = f"the study area ({settings.study_area.name}"
        name += f" + {settings.study_area_buffer_m:g} m)" if settings.study_area_buffer_m else ")"
    areas = {}
    for kind in ("ward", "lsoa"):
        b = store.boundaries(kind)
        if len(b):
            areas[kind] = (b["code"].to_numpy(dtype=object), b.geometry.to_numpy())
    return ValidationContext(
        analysis_crs=store.analysis_crs,
        study_area=study_area,
        study_area_name=name,
        sensitive=settings.sensitive_categories,
        outlier_distance_m=settings.outlier_distance_m,
        artefact_places=settings.artefact_places,
        areas=areas,
    )


def import_records(
    store: Store,
    records: Iterable[RawRecords],
    ctx: ValidationContext | None = None,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    on_file: Callable[[str], None] | None = None,
) -> ImportReport:
    """Validate ``records`` and store the batches whose content changed, in one transaction.

    Reading and validating the next file runs in a background thread while the
    store writes the previous one. Any error — a bad file half-way, the store
    failing, the process being killed — rolls the whole import back: the store
    is left as it was.

    Parameters
    ----------
    dry_run : validate and report only; nothing is written (status ``checked``).
    progress : called with (rows written so far, rows in the batches seen so far).
    on_file : called with each file name as it is read and validated.
    """
    ctx = ctx or context_for(store)
    report = ImportReport()
    seen: dict[str, str] = {}

    def validated() -> Iterator[ValidatedBatch]:
        for rec in records:
            if on_file:
                on_file(rec.file)
            for batch in validate(rec, ctx):
                bid = batch.info.batch_id
                if bid in seen:
                    raise InputFileError(
                        rec.file,
                        f"holds batch {bid!r}, which {seen[bid]} holds too; import one of them",
                    )
                seen[bid] = rec.file
                yield batch

    if dry_run:
        report.batches.extend(b.report for b in validated())
        return report

    def changed() -> Iterator[ValidatedBatch]:
        for batch in prefetch(validated()):
            report.batches.append(batch.report)
            bid = batch.info.batch_id
            stored = store.batch_hashes([bid]).get(bid)
            if stored == batch.info.content_hash:
                batch.report.status = "unchanged"
                continue
            batch.report.status = "replaced" if stored is not None else "created"
            yield batch

    store.apply(changed(), progress)
    return report


_END = object()


def prefetch(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Iterate ``items`` in a background thread, ``depth`` items ahead of the consumer.

    Exceptions raised while producing are re-raised in the consumer; if the
    consumer stops early, the producer stops at its next item.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer
            put(_Failure(exc))

    worker = threading.Thread(target=run, name="hotspots-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def summarise_categories(report: ImportReport) -> dict[str, int]:
    """Accepted rows per category over all batches of a report, largest first."""
    totals: dict[str, int] = {}
    for b in report.batches:
        for slug, n in b.categories.items():
            totals[slug] = totals.get(slug, 0) + n
    order = np.argsort([-v for v in totals.values()], kind="stable")
    keys = list(totals)
    return {keys[i]: totals[keys[i]] for i in order}
