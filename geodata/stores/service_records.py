"""The service records of both stores, written once: runs (and their request keys), API
keys, share links and their opens, jobs and the interventions log.

:class:`ServiceRecords` holds every query and every row-to-record conversion; a store
gives it a small dialect: its placeholder (``?`` or ``%s``; the SQL here is written
with ``?``), how a JSON value is passed and read back (text in DuckDB, ``jsonb`` in
PostGIS), how many rows a statement changed, a transaction
(:meth:`ServiceRecords._transaction`) and the exceptions that mean a missing table, a
violated constraint or a lost connection; and, for reads of one statement, a connection
with no transaction around it (:meth:`ServiceRecords._statement`: one round trip on
PostGIS, not three). The columns are those of
:mod:`geodata.stores.service_tables`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime

from ..errors import NotFound, StoreError, StoreUnavailable
from ..interventions import check_intervention
from ..model import ApiKeyRecord, InterventionRecord, JobRecord, RunRecord, ShareLinkRecord
from .base import check_job_status, check_progress, check_role, job_changes, utc_naive
from .key_cache import KeyCache
from .service_tables import BY_NAME

RUNS = BY_NAME["runs"].names
RUN_LISTED = RUNS.replace("result", "{empty} AS result")
KEYS = BY_NAME["api_keys"].names
LINKS = BY_NAME["share_links"].names
JOBS = BY_NAME["jobs"].names
INTERVENTIONS = BY_NAME["interventions"].names


class ServiceRecords:
    """The service-record half of the :class:`~geodata.stores.base.Store` contract."""

    #: the dialect, set by each store
    PH = "?"
    EMPTY_JSON = "'{}'"
    #: (missing table, violated constraint, lost connection, any other) exceptions
    ERRORS: tuple[tuple, tuple, tuple, type[BaseException]] = ((), (), (), Exception)
    #: what the messages call the store ("the store FILE", "the database")
    where = "the store"

    def _transaction(self, action: str):  # pragma: no cover - each store has its own
        raise NotImplementedError

    def _key_cache(self) -> KeyCache | None:
        """Where this store remembers API keys (:mod:`geodata.stores.key_cache`), if it does."""
        return None

    def _statement(self, action: str):  # pragma: no cover - each store has its own
        """A connection (or cursor) for one statement, in no transaction of ours."""
        raise NotImplementedError

    def _to_json(self, value: object, what: str) -> object:  # pragma: no cover
        raise NotImplementedError

    def _from_json(self, value: object) -> object:
        return value

    @staticmethod
    def _changed(cur, result) -> int:
        """Rows a statement changed (``result``: what ``execute`` returned)."""
        return result.rowcount

    def _intervention_geom(self, rec: InterventionRecord) -> tuple[str, str, list]:
        """Extra (columns, placeholders, values) a store keeps with an intervention."""
        return "", "", []

    # -- plumbing -----------------------------------------------------------------------------
    def _q(self, text: str) -> str:
        """The shared SQL (``?`` placeholders) in the store's placeholder style."""
        return text if self.PH == "?" else text.replace("?", self.PH)

    @contextmanager
    def _service(self, action: str, duplicate: str = "", read: bool = False) -> Iterator:
        """A transaction committed on success (``read``: a connection for one statement,
        which is atomic by itself); the store's errors translated."""
        missing, constraint, lost, other = self.ERRORS
        try:
            with self._statement(action) if read else self._transaction(action) as cur:
                yield cur
        except missing as exc:
            raise StoreError(
                f"{action}: {self.where} lacks the service tables (its schema is out of "
                "date); run `hotspots db upgrade`"
            ) from exc
        except constraint as exc:
            raise StoreError(f"{action}: {duplicate or 'a constraint was violated'}") from exc
        except lost as exc:
            raise StoreUnavailable(f"{action}: lost the connection to {self.where}") from exc
        except other as exc:
            raise StoreError(
                f"{action} failed; nothing was changed ({type(exc).__name__})"
            ) from exc

    def _fetch_one(self, action: str, query: str, params: list):
        """The row of a lookup by key (or with ``LIMIT 1``), or None; read to the end, as
        DuckDB wants of a result on a cursor that others use next."""
        with self._service(action, read=True) as cur:
            rows = cur.execute(self._q(query), params).fetchall()
        return rows[0] if rows else None

    def _fetch_all(self, action: str, query: str, params: list | None = None) -> list:
        with self._service(action, read=True) as cur:
            return cur.execute(self._q(query), params or []).fetchall()

    def _write(self, action: str, query: str, params: list, duplicate: str = "") -> int:
        with self._service(action, duplicate) as cur:
            return self._changed(cur, cur.execute(self._q(query), params))

    def _run_record(self, row) -> RunRecord:
        run_id, method, params, provenance, result, created_at = row
        j = self._from_json
        return RunRecord(run_id, method, j(params), j(provenance), j(result), created_at)

    def _link_record(self, row) -> ShareLinkRecord:
        values = list(row)
        values[3] = self._from_json(values[3])
        return ShareLinkRecord(*values)

    def _job_record(self, row) -> JobRecord:
        values = list(row)
        values[3] = float(values[3])
        values[5] = None if values[5] is None else self._from_json(values[5])
        return JobRecord(*values)

    def _intervention_record(self, row) -> InterventionRecord:
        values = list(row)
        values[4], values[5] = self._from_json(values[4]), self._from_json(values[5])
        return InterventionRecord(*values)

    @staticmethod
    def _placeholders(n: int) -> str:
        return ", ".join(["?"] * n)

    # -- runs -----------------------------------------------------------------------------------
    def save_run(self, record: RunRecord) -> bool:
        values = [
            record.run_id,
            record.method,
            self._to_json(record.params, "run params"),
            self._to_json(record.provenance, "run provenance"),
            self._to_json(record.result, "run result"),
            utc_naive(record.created_at, "created_at"),
        ]
        try:
            with self._service("saving the run") as cur:
                stored = self._changed(
                    cur,
                    cur.execute(
                        self._q(
                            f"INSERT INTO runs ({RUNS}) VALUES ({self._placeholders(6)}) "
                            "ON CONFLICT DO NOTHING"
                        ),
                        values,
                    ),
                )
                if record.params.get("request_key"):
                    cur.execute(
                        self._q("INSERT INTO run_keys VALUES (?, ?) ON CONFLICT DO NOTHING"),
                        [record.params["request_key"], record.run_id],
                    )
                return bool(stored)
        except StoreError:
            # Another writer stored the same run id first (a write-write conflict).
            if self.get_run(record.run_id) is not None:
                return False
            raise

    def get_run(self, run_id: str) -> RunRecord | None:
        row = self._fetch_one(
            "reading the run", f"SELECT {RUNS} FROM runs WHERE run_id = ?", [run_id]
        )
        return self._run_record(row) if row else None

    def run_for_request(self, request_key: str) -> RunRecord | None:
        columns = ", ".join(f"r.{c}" for c in RUNS.split(", "))
        row = self._fetch_one(
            "finding the run of a request",
            f"SELECT {columns} FROM run_keys k JOIN runs r ON r.run_id = k.run_id "
            "WHERE k.request_key = ?",
            [request_key],
        )
        return self._run_record(row) if row else None

    def list_runs(self, method: str | None = None, limit: int = 100) -> list[RunRecord]:
        limit = int(limit)
        if limit < 0:
            raise ValueError(f"limit must be 0 or more; got {limit}")
        where, params = ("WHERE method = ? ", [method]) if method is not None else ("", [])
        listed = RUN_LISTED.replace("{empty}", self.EMPTY_JSON)
        rows = self._fetch_all(
            "listing runs",
            f"SELECT {listed} FROM runs {where}ORDER BY created_at DESC, run_id DESC LIMIT ?",
            [*params, limit],
        )
        return [self._run_record(r) for r in rows]

    def latest_run(self, method: str) -> RunRecord | None:
        row = self._fetch_one(
            "reading the latest run",
            f"SELECT {RUNS} FROM runs WHERE method = ? "
            "ORDER BY created_at DESC, run_id DESC LIMIT 1",
            [method],
        )
        return self._run_record(row) if row else None

    def delete_run(self, run_id: str) -> bool:
        with self._service("deleting the run") as cur:
            self.run_rows.delete(cur, run_id)  # type: ignore[attr-defined]
            cur.execute(self._q("DELETE FROM run_keys WHERE run_id = ?"), [run_id])
            done = cur.execute(self._q("DELETE FROM runs WHERE run_id = ?"), [run_id])
            return bool(self._changed(cur, done))

    # -- API keys -------------------------------------------------------------------------------
    def add_api_key(self, record: ApiKeyRecord) -> None:
        values = [
            record.key_id,
            record.name,
            check_role(record.role),
            record.key_hash,
            utc_naive(record.created_at, "created_at"),
            utc_naive(record.revoked_at, "revoked_at"),
        ]
        self._write(
            "adding the API key",
            f"INSERT INTO api_keys ({KEYS}) VALUES ({self._placeholders(6)})",
            values,
            "an API key with this id or hash is already stored",
        )
        self._keys_changed()

    def api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        cache = self._key_cache()
        if cache is None:
            return self._read_api_key(key_hash)
        return cache.get(key_hash, self._read_api_key)

    def remembered_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        cache = self._key_cache()
        return None if cache is None else cache.peek(key_hash)

    def _read_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        row = self._fetch_one(
            "looking up the API key", f"SELECT {KEYS} FROM api_keys WHERE key_hash = ?", [key_hash]
        )
        return ApiKeyRecord(*row) if row else None

    def _keys_changed(self) -> None:
        cache = self._key_cache()
        if cache is not None:
            cache.clear()

    def list_api_keys(self) -> list[ApiKeyRecord]:
        rows = self._fetch_all(
            "listing API keys", f"SELECT {KEYS} FROM api_keys ORDER BY created_at, key_id"
        )
        return [ApiKeyRecord(*r) for r in rows]

    def revoke_api_key(self, key_id: str, when: datetime) -> bool:
        changed = self._write(
            "revoking the API key",
            "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
            [utc_naive(when, "when"), key_id],
        )
        self._keys_changed()
        return bool(changed)

    # -- share links ----------------------------------------------------------------------------
    def add_share_link(self, record: ShareLinkRecord) -> None:
        values = [
            record.link_id,
            record.run_id,
            check_role(record.role),
            self._to_json(record.filters, "share link filters"),
            record.created_by,
            utc_naive(record.created_at, "created_at"),
            utc_naive(record.expires_at, "expires_at"),
            utc_naive(record.revoked_at, "revoked_at"),
        ]
        self._write(
            "adding the share link",
            f"INSERT INTO share_links ({LINKS}) VALUES ({self._placeholders(8)})",
            values,
            "a share link with this id is already stored",
        )

    def get_share_link(self, link_id: str) -> ShareLinkRecord | None:
        row = self._fetch_one(
            "reading the share link",
            f"SELECT {LINKS} FROM share_links WHERE link_id = ?",
            [link_id],
        )
        return self._link_record(row) if row else None

    def list_share_links(self) -> list[ShareLinkRecord]:
        rows = self._fetch_all(
            "listing share links",
            f"SELECT {LINKS} FROM share_links ORDER BY created_at DESC, link_id DESC",
        )
        return [self._link_record(r) for r in rows]

    def revoke_share_link(self, link_id: str, when: datetime) -> bool:
        return bool(
            self._write(
                "revoking the share link",
                "UPDATE share_links SET revoked_at = ? WHERE link_id = ? AND revoked_at IS NULL",
                [utc_naive(when, "when"), link_id],
            )
        )

    def log_share_open(self, link_id: str, opened_at: datetime, client: str | None) -> None:
        opened = utc_naive(opened_at, "opened_at")
        with self._service("logging the share link open") as cur:
            found = cur.execute(self._q("SELECT 1 FROM share_links WHERE link_id = ?"), [link_id])
            if not found.fetchone():
                raise NotFound(f"no share link {link_id!r}")
            cur.execute(
                self._q("INSERT INTO share_opens (link_id, opened_at, client) VALUES (?, ?, ?)"),
                [link_id, opened, client],
            )

    def share_link_opens(self, link_id: str) -> list[tuple[datetime, str | None]]:
        rows = self._fetch_all(
            "reading share link opens",
            "SELECT opened_at, client FROM share_opens WHERE link_id = ? ORDER BY opened_at, seq",
            [link_id],
        )
        return [(opened, client) for opened, client in rows]

    # -- jobs -----------------------------------------------------------------------------------
    def add_job(self, record: JobRecord) -> None:
        values = [
            record.job_id,
            record.kind,
            check_job_status(record.status),
            check_progress(record.progress),
            record.message,
            None if record.result is None else self._to_json(record.result, "job result"),
            utc_naive(record.created_at, "created_at"),
            utc_naive(record.updated_at, "updated_at"),
        ]
        self._write(
            "adding the job",
            f"INSERT INTO jobs ({JOBS}) VALUES ({self._placeholders(8)})",
            values,
            "a job with this id is already stored",
        )

    def update_job(
        self,
        job_id: str,
        *,
        status: str | None = None,
        progress: float | None = None,
        message: str | None = None,
        result: dict | None = None,
        when: datetime,
    ) -> bool:
        changes = job_changes(
            status=status,
            progress=progress,
            message=message,
            result=result,
            when=when,
            encode_result=self._to_json,
        )
        sets = ", ".join(f"{col} = ?" for col in changes)  # column names: literals there
        return bool(
            self._write(
                "updating the job",
                f"UPDATE jobs SET {sets} WHERE job_id = ?",
                [*changes.values(), job_id],
            )
        )

    def get_job(self, job_id: str) -> JobRecord | None:
        row = self._fetch_one(
            "reading the job", f"SELECT {JOBS} FROM jobs WHERE job_id = ?", [job_id]
        )
        return self._job_record(row) if row else None

    # -- interventions --------------------------------------------------------------------------
    def add_intervention(self, record: InterventionRecord) -> InterventionRecord:
        rec = check_intervention(record)
        rec = replace(rec, created_at=utc_naive(rec.created_at, "created_at"))
        extra_cols, extra_ph, extra_values = self._intervention_geom(rec)
        values = [
            rec.intervention_id,
            rec.title,
            rec.kind,
            rec.area_type,
            self._to_json(rec.area_codes, "intervention area codes"),
            self._to_json(rec.geometry, "intervention geometry"),
            rec.start_date,
            rec.end_date,
            rec.officer_hours,
            rec.notes,
            rec.created_at,
            rec.created_by,
        ]
        self._write(
            "adding the intervention",
            f"INSERT INTO interventions ({INTERVENTIONS}{extra_cols}) "
            f"VALUES ({self._placeholders(12)}{extra_ph})",
            [*values, *extra_values],
            "an intervention with this id is already stored",
        )
        return rec

    def get_intervention(self, intervention_id: str) -> InterventionRecord | None:
        row = self._fetch_one(
            "reading the intervention",
            f"SELECT {INTERVENTIONS} FROM interventions WHERE intervention_id = ?",
            [intervention_id],
        )
        return self._intervention_record(row) if row else None

    def list_interventions(self) -> list[InterventionRecord]:
        rows = self._fetch_all(
            "listing interventions",
            f"SELECT {INTERVENTIONS} FROM interventions "
            "ORDER BY start_date DESC, intervention_id DESC",
        )
        return [self._intervention_record(r) for r in rows]

    def delete_intervention(self, intervention_id: str) -> bool:
        return bool(
            self._write(
                "deleting the intervention",
                "DELETE FROM interventions WHERE intervention_id = ?",
                [intervention_id],
            )
        )
