"""Imports (analysts): upload police.uk or council files; batches; quarantine; jobs.

Uploads up to ``HOTSPOTS_MAX_UPLOAD_MB``. A small upload is imported at once
and answered with the import report (201); a large one becomes a background
job (202 with a ``Location`` to poll: status and progress). Either way the
import is one transaction: a bad file changes nothing stored.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Response, UploadFile

from geodata.coverage import coverage_of
from geodata.errors import HotspotsError
from geodata.model import REASONS, JobRecord

from ..deps import AnalystDep, PartnerDep, SettingsDep, StoreDep
from ..problems import Problem
from ..security import now_utc

router = APIRouter(tags=["imports"])
BACKGROUND_ABOVE_BYTES = 4 * 1024 * 1024
CHUNK = 1 << 20


def _records(path: Path, kind: str, profile: str | None, source: str | None, period: str | None):
    """The upload's records, each named as uploaded (``name.zip!member.csv``), never by
    the server's temporary path."""
    if kind == "police":
        from geodata.readers.police import iter_police_files, read_police_bytes

        return (
            read_police_bytes(data, _shown(name, path.parent))
            for name, data in iter_police_files(path)
        )
    from geodata.readers.council import list_profiles, load_profile, read_council

    known = list_profiles()
    if profile not in known:
        raise Problem(
            422,
            f"form field 'profile': expected one of {known} for a council file; "
            f"received {profile!r}",
            errors=[
                {
                    "field": "profile",
                    "where": "form",
                    "expected": f"one of {known}",
                    "received": profile,
                }
            ],
        )
    records = read_council(path, load_profile(profile), source=source, period=period)
    records.file = path.name
    return [records]


def _shown(name: str, folder: Path) -> str:
    """``name`` without the temporary upload folder."""
    return name.replace(f"{folder}/", "")


def _import(store, path: Path, kind, profile, source, period, dry_run, progress=None):
    from geodata.errors import InputFileError
    from geodata.ingest import context_for, import_records

    try:
        return import_records(
            store,
            _records(path, kind, profile, source, period),
            context_for(store),
            dry_run=dry_run,
            progress=progress,
        )
    except HotspotsError as exc:  # name the file as uploaded, not by its temporary path
        exc.message = _shown(exc.message, path.parent)
        exc.args = (exc.message,)
        if isinstance(exc, InputFileError):
            exc.path = _shown(exc.path, path.parent)
        raise


async def _save_upload(upload: UploadFile, limit_mb: float, folder: Path) -> Path:
    name = Path(upload.filename or "upload").name or "upload"
    path = folder / name
    size, limit_bytes = 0, int(limit_mb * 1024 * 1024)
    with path.open("wb") as out:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limit_bytes:
                raise Problem(
                    413,
                    f"file {name}: the upload is larger than the limit of {limit_mb:g} MB "
                    "(HOTSPOTS_MAX_UPLOAD_MB); split it, e.g. one police.uk month per file",
                )
            out.write(chunk)
    if size == 0:
        raise Problem(422, f"file {name}: the upload is empty")
    return path


@router.post(
    "/imports",
    operation_id="create_import",
    status_code=201,
    summary="Import a police.uk CSV/zip or a council file (profile)",
    responses={
        200: {
            "description": "a dry run: the report of what would be imported; nothing stored",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        202: {
            "description": "large upload: importing in the background; poll the job",
            "headers": {"Location": {"description": "the job", "schema": {"type": "string"}}},
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
)
async def create_import(
    response: Response,
    background: BackgroundTasks,
    store: StoreDep,
    settings: SettingsDep,
    caller: AnalystDep,
    file: Annotated[UploadFile, File(description="police.uk CSV or zip, or a council CSV/xlsx")],
    kind: Annotated[Literal["police", "council"], Form()] = "police",
    profile: Annotated[str | None, Form(description="council profile name")] = None,
    source: Annotated[str | None, Form()] = None,
    period: Annotated[str | None, Form()] = None,
    dry_run: Annotated[bool, Form()] = False,
) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="hotspots-upload-"))
    try:
        path = await _save_upload(file, settings.max_upload_mb, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if path.stat().st_size <= BACKGROUND_ABOVE_BYTES or dry_run:
        try:
            from starlette.concurrency import run_in_threadpool

            report = await run_in_threadpool(
                _import, store, path, kind, profile, source, period, dry_run
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if dry_run:
            response.status_code = 200
        return report.to_dict()
    job = JobRecord(
        job_id="job_" + secrets.token_hex(8),
        kind=f"import-{kind}",
        status="queued",
        progress=0.0,
        message=f"{path.name} queued",
        result=None,
        created_at=now_utc(),
        updated_at=now_utc(),
    )
    store.add_job(job)

    def work() -> None:
        store.update_job(
            job.job_id, status="running", message=f"importing {path.name}", when=now_utc()
        )

        def progress(done: int, total: int) -> None:
            store.update_job(
                job.job_id, progress=min(done / total, 1.0) if total else 0.0, when=now_utc()
            )

        try:
            report = _import(store, path, kind, profile, source, period, False, progress)
            store.update_job(
                job.job_id,
                status="done",
                progress=1.0,
                message="imported",
                result=report.to_dict(),
                when=now_utc(),
            )
        except HotspotsError as exc:
            store.update_job(
                job.job_id,
                status="failed",
                message=exc.message,
                result={"error": exc.to_dict()},
                when=now_utc(),
            )
        except Exception:  # logged; the client sees a plain message
            import logging

            logging.getLogger("hotspots.api").exception("import job %s failed", job.job_id)
            store.update_job(
                job.job_id,
                status="failed",
                message="the import failed; nothing was stored",
                when=now_utc(),
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    background.add_task(work)
    response.status_code = 202
    response.headers["Location"] = f"/jobs/{job.job_id}"
    return {"job_id": job.job_id, "status": "queued", "links": {"self": f"/jobs/{job.job_id}"}}


@router.get("/jobs/{job_id}", operation_id="read_job", summary="A background job's progress")
def read_job(job_id: str, store: StoreDep, caller: AnalystDep) -> dict:
    job = store.get_job(job_id)
    if job is None:
        raise Problem(404, f"no job {job_id!r}")
    return {
        "job_id": job.job_id,
        "kind": job.kind,
        "status": job.status,
        "progress": job.progress,
        "message": job.message,
        "result": job.result,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
    }


@router.get("/batches", operation_id="list_batches", summary="Stored batches")
def list_batches(store: StoreDep, caller: AnalystDep) -> list[dict]:
    return [b.to_dict() for b in store.list_batches()]


@router.get(
    "/coverage",
    operation_id="read_coverage",
    summary="Which months each source has loaded (a month-by-source table)",
)
def read_coverage(store: StoreDep, caller: PartnerDep) -> dict:
    """Months loaded per source; a month a source lacks is left out of every figure for its
    categories, never counted as zero."""
    # below analyst, from the incidents the caller may see (a source of sensitive
    # incidents only would show the months they fall in)
    return coverage_of(store, caller.at_least("analyst")).to_dict()


@router.get(
    "/quarantine",
    operation_id="list_quarantine",
    summary="Quarantined rows: file, row, reason, field and the raw text",
)
def list_quarantine(
    store: StoreDep,
    caller: AnalystDep,
    batch_id: Annotated[str | None, Query()] = None,
    reason: Annotated[str | None, Query(description=", ".join(REASONS))] = None,
    limit: Annotated[int, Query(ge=0, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict]:
    if reason is not None and reason not in REASONS:
        raise Problem(
            422, f"query parameter 'reason': expected one of {sorted(REASONS)}; received {reason!r}"
        )
    return store.read_quarantine(
        batch_id=batch_id, reason=reason, limit=limit, offset=offset
    ).to_pylist()
