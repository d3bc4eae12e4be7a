"""Import jobs and their upload folders: named safely, owned by a process, honest after
a crash.

Every upload is saved in its own temporary folder ``hotspots-upload-*`` holding an
``owner.json`` (the process id and the job id). When the service starts,
:func:`recover_orphans` looks at every such folder: one whose process is gone was
left by a crash or ``kill -9`` — its job, if still queued or running, is marked
failed with the reason (the import was one transaction, so nothing of it is
stored) and the folder is removed. Folders of live processes (other workers) are
left alone.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import unicodedata
from pathlib import Path

from geodata.stores import Store

from .security import now_utc

log = logging.getLogger("hotspots.api")
FOLDER_PREFIX = "hotspots-upload-"
OWNER_FILE = "owner.json"
MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._ +()\[\]-]+")


def safe_filename(raw: str | None) -> str:
    """An uploaded file's name made safe to save and to show: no folders, no control
    or shell characters, no ``.``/``..``, at most :data:`MAX_NAME_CHARS` characters
    (the suffix is kept, e.g. ``.zip``); ``upload`` when nothing usable is left.

    >>> safe_filename("../../etc/passwd")
    'passwd'
    >>> safe_filename("..")
    'upload'
    >>> len(safe_filename("a" * 300 + ".csv")), safe_filename("a" * 300 + ".csv")[-4:]
    (120, '.csv')
    """
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    if not name or set(name) <= {"_", "."}:
        return "upload"
    if len(name) > MAX_NAME_CHARS:
        _, dot, suffix = name.rpartition(".")
        suffix = dot + suffix if dot and 0 < len(suffix) <= 8 else ""
        name = name[: MAX_NAME_CHARS - len(suffix)] + suffix
    return name


def new_upload_folder(job_id: str) -> Path:
    """A fresh private folder for one upload, recording this process as its owner."""
    folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX))
    (folder / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "job_id": job_id}))
    return folder


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def recover_orphans(store: Store | None, temp_dir: str | Path | None = None) -> list[str]:
    """Fail the jobs of upload folders whose process is gone and remove the folders.

    Returns the ids of the jobs marked failed. Safe to call while other workers run:
    only folders of dead processes are touched.
    """
    failed: list[str] = []
    if store is None:  # the store is unreachable: keep the evidence for a later start
        return failed
    root = Path(temp_dir or tempfile.gettempdir())
    for folder in root.glob(FOLDER_PREFIX + "*"):
        try:
            owner = json.loads((folder / OWNER_FILE).read_text())
            pid, job_id = int(owner["pid"]), str(owner["job_id"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not ours, or being written just now
        if pid == os.getpid() or _alive(pid):
            continue
        if _fail(store, job_id, pid):
            failed.append(job_id)
        shutil.rmtree(folder, ignore_errors=True)
        log.warning("removed upload folder %s left by process %d", folder.name, pid)
    return failed


def _fail(store: Store, job_id: str, pid: int) -> bool:
    job = store.get_job(job_id)
    if job is None or job.status not in ("queued", "running"):
        return False
    store.update_job(
        job_id,
        status="failed",
        message=(
            f"the service process running this job (pid {pid}) stopped before it finished; "
            "the import was rolled back and nothing was stored — upload the file again"
        ),
        when=now_utc(),
    )
    log.warning("job %s marked failed: its process %d is gone", job_id, pid)
    return True
