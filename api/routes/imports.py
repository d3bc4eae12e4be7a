"""Imports (analysts): upload police.uk or council files; batches; quarantine; jobs.

Uploads up to ``HOTSPOTS_MAX_UPLOAD_MB``. A small upload is imported at once
and answered with the import report (201); a large one, or one still importing
when the answer is due, is a background job (202 with a ``Location`` to poll:
status and progress). Either way the import is one transaction: a bad file
changes nothing stored. Upload folders and crashed jobs: :mod:`api.import_jobs`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile as StarletteUpload

from geodata.coverage import coverage_of
from geodata.errors import HotspotsError
from geodata.model import REASONS, JobRecord
from geodata.readers.council import list_profiles

from ..deps import AnalystDep, PartnerDep, SettingsDep, StoreDep
from ..filters import MAX_OFFSET
from ..import_jobs import new_upload_folder, safe_filename
from ..params import LINE
from ..problems import Problem
from ..security import now_utc

router = APIRouter(tags=["imports"])
log = logging.getLogger("hotspots.api")
BACKGROUND_ABOVE_BYTES = 4 * 1024 * 1024
CHUNK = 1 << 20
#: an import still running at this share of the request time limit is answered 202
INLINE_SHARE = 0.8


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


def _import(store, ingest, path: Path, kind, profile, source, period, dry_run, progress=None):
    from geodata.errors import InputFileError
    from geodata.ingest import context_for, import_records

    try:
        return import_records(
            store,
            _records(path, kind, profile, source, period),
            context_for(store, ingest),
            dry_run=dry_run,
            progress=progress,
        )
    except HotspotsError as exc:  # name the file as uploaded, not by its temporary path
        exc.message = _shown(exc.message, path.parent)
        exc.args = (exc.message,)
        if isinstance(exc, InputFileError):
            exc.path = _shown(exc.path, path.parent)
        raise


class ImportForm(BaseModel):
    """The form fields of an upload besides ``file``."""

    kind: Literal["police", "council"] = "police"
    profile: Literal[tuple(list_profiles())] | None = Field(  # type: ignore[valid-type]
        None, description="council profile name (a council file needs one)"
    )
    source: str | None = Field(None, max_length=200, pattern=LINE)
    period: str | None = Field(None, max_length=100, pattern=LINE)
    dry_run: bool = False


def _form_schema() -> dict:
    schema = ImportForm.model_json_schema()
    for prop in schema["properties"].values():  # a form cannot send null: absent instead
        options = [o for o in prop.pop("anyOf", []) if o.get("type") != "null"]
        if options:
            prop.update(options[0])
    schema["properties"] = {
        "file": {
            "type": "string",
            "format": "binary",
            "minLength": 1,
            "description": "police.uk CSV or zip, or a council CSV/xlsx",
        },
        **schema["properties"],
    }
    schema["required"] = ["file"]
    # a council file names its column profile (a police.uk file needs none)
    schema["anyOf"] = [{"properties": {"kind": {"const": "police"}}}, {"required": ["profile"]}]
    return {
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": schema}},
        }
    }


def _no_file(received: str) -> Problem:
    return Problem(
        422,
        f"body field 'file': expected a multipart/form-data upload with a file; "
        f"received {received}",
        type="invalid-input",
        errors=[{"field": "file", "where": "body", "expected": "a file", "received": received}],
    )


async def _read_form(request: Request) -> tuple[StarletteUpload, ImportForm]:
    """The upload and its fields, read only now (after the caller was checked), under the
    body limit of :mod:`api.body_limit`."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise _no_file(f"content type {request.headers.get('content-type')!r}")
    form = await request.form(max_files=1, max_fields=20, max_part_size=64 * 1024)
    upload = form.get("file")
    try:
        if not isinstance(upload, StarletteUpload):
            raise _no_file("no file part" if upload is None else "a text field")
        fields = {k: v for k, v in form.items() if k != "file" and isinstance(v, str)}
        try:
            return upload, ImportForm.model_validate(fields)
        except ValidationError as exc:
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
            raise RequestValidationError(errors) from None
    except BaseException:
        await form.close()
        raise


async def _save_upload(upload: StarletteUpload, limit_mb: float, folder: Path) -> Path:
    name = safe_filename(upload.filename)
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
        raise Problem(422, f"file {name}: the upload is empty", type="invalid-input-file")
    return path


def _job_work(store, ingest, job: JobRecord, path: Path, form: ImportForm):
    """The import as a job: its status kept in the store, its folder removed at the end.
    Returns the report, or the error (already recorded on the job)."""

    def progress(done: int, total: int) -> None:
        store.update_job(
            job.job_id, progress=min(done / total, 1.0) if total else 0.0, when=now_utc()
        )

    def work():
        store.update_job(
            job.job_id, status="running", message=f"importing {path.name}", when=now_utc()
        )
        try:
            report = _import(
                store, ingest, path, form.kind, form.profile, form.source, form.period,
                form.dry_run, progress,
            )  # fmt: skip
            store.update_job(
                job.job_id,
                status="done",
                progress=1.0,
                message="checked (dry run)" if form.dry_run else "imported",
                result=report.to_dict(),
                when=now_utc(),
            )
            return report
        except HotspotsError as exc:
            store.update_job(
                job.job_id,
                status="failed",
                message=exc.message,
                result={"error": exc.to_dict()},
                when=now_utc(),
            )
            return exc
        except Exception as exc:  # logged; the client sees a plain message
            log.exception("import job %s failed", job.job_id)
            store.update_job(
                job.job_id,
                status="failed",
                message="the import failed; nothing was stored",
                when=now_utc(),
            )
            return exc
        finally:
            shutil.rmtree(path.parent, ignore_errors=True)

    return work


@router.post(
    "/imports",
    operation_id="create_import",
    status_code=201,
    summary="Import a police.uk CSV/zip or a council file (profile)",
    openapi_extra=_form_schema(),
    responses={
        200: {
            "description": "a dry run: the report of what would be imported; nothing stored",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        202: {
            "description": "a large upload, or one still importing when the answer is due: "
            "importing in the background; poll the job",
            "headers": {"Location": {"description": "the job", "schema": {"type": "string"}}},
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        413: {"description": "the upload is over HOTSPOTS_MAX_UPLOAD_MB"},
        422: {"description": "Invalid input"},
    },
)
async def create_import(
    request: Request,
    response: Response,
    background: BackgroundTasks,
    store: StoreDep,
    settings: SettingsDep,
    caller: AnalystDep,
) -> dict:
    """The caller is checked before the body is read: a caller who may not import is
    refused before anything is received or spooled. An import not finished when the
    answer is due (0.8 × the request time limit) goes on as a job (202), never left
    running behind a 503."""
    upload, form = await _read_form(request)
    job = JobRecord(
        job_id="job_" + secrets.token_hex(8),
        kind=f"import-{form.kind}",
        status="queued",
        progress=0.0,
        message="queued",
        result=None,
        created_at=now_utc(),
        updated_at=now_utc(),
    )
    folder = new_upload_folder(job.job_id)
    try:
        path = await _save_upload(upload, settings.max_upload_mb, folder)
        job.message = f"{path.name} queued"
        store.add_job(job)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        await upload.close()
    # the import settings of the app's root settings (study area, sensitive categories, ...)
    work = _job_work(store, request.app.state.settings.ingest, job, path, form)
    if path.stat().st_size > BACKGROUND_ABOVE_BYTES and not form.dry_run:
        background.add_task(work)
        return _accepted(response, job.job_id, "queued")
    future = asyncio.get_running_loop().run_in_executor(None, work)
    try:
        outcome = await asyncio.wait_for(
            asyncio.shield(future), timeout=settings.request_timeout_s * INLINE_SHARE
        )
    except TimeoutError:
        return _accepted(response, job.job_id, "running")
    if isinstance(outcome, BaseException):
        raise outcome
    if form.dry_run:
        response.status_code = 200
    return outcome.to_dict()


def _accepted(response: Response, job_id: str, status: str) -> dict:
    response.status_code = 202
    response.headers["Location"] = f"/jobs/{job_id}"
    return {"job_id": job_id, "status": status, "links": {"self": f"/jobs/{job_id}"}}


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
    reason: Annotated[Literal[tuple(REASONS)] | None, Query()] = None,  # type: ignore[valid-type]
    limit: Annotated[int, Query(ge=0, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[dict]:
    if reason is not None and reason not in REASONS:
        raise Problem(
            422, f"query parameter 'reason': expected one of {sorted(REASONS)}; received {reason!r}"
        )
    return store.read_quarantine(
        batch_id=batch_id, reason=reason, limit=limit, offset=offset
    ).to_pylist()
