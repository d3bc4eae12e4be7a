"""FastAPI dependencies: the store, settings and the caller's role, as ``Annotated`` aliases."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from geodata.errors import StoreUnavailable
from geodata.stores import DuckDBStore, Store, open_store, sharing

from .disclosure import Disclosure
from .problems import Problem
from .security import ROLES, hash_key, role_at_least
from .settings import ApiSettings

#: seconds between attempts to open a store that could not be reached
STORE_RETRY_S = 2.0
_reopening = threading.Lock()


async def get_store(request: Request) -> Store:
    """The app's store; if it could not be opened at startup, another attempt (at most
    every :data:`STORE_RETRY_S`), else :class:`StoreUnavailable` (503, ``Retry-After``)."""
    store = request.app.state.store
    if store is None:
        store = await run_in_threadpool(_reopen, request.app)
    return store


def _reopen(app) -> Store:
    if not _reopening.acquire(blocking=False):  # another request is trying just now
        raise StoreUnavailable("the store is being reopened")
    try:
        if app.state.store is not None:
            return app.state.store
        if time.monotonic() < app.state.store_retry_at:
            raise StoreUnavailable("the store could not be reached; retrying shortly")
        app.state.store_retry_at = time.monotonic() + STORE_RETRY_S
        return open_served_store(app)
    finally:
        _reopening.release()


def open_served_store(app) -> Store:
    """Open the service's store (never through another service) and, for a DuckDB file,
    share it so that other hotspots commands work while the service runs
    (:mod:`geodata.stores.sharing`; stopped by :func:`close_served_store`)."""
    store = open_store(app.state.settings.store, via_service=False)
    if isinstance(store, DuckDBStore) and store.path != ":memory:":
        app.state.sharing = sharing.share(store, store.path)
    app.state.store = store
    return store


def close_served_store(app) -> None:
    shared = getattr(app.state, "sharing", None)
    if shared is not None:
        shared.close()
        app.state.sharing = None
    if app.state.store is not None:
        app.state.store.close()


async def get_settings(request: Request) -> ApiSettings:
    return request.app.state.settings.api


async def get_engine_spec(request: Request):
    """Where the service runs analyses (:mod:`api.usecases.compute`): ``None`` here, or
    the Dask scheduler of ``HOTSPOTS_DASK_SCHEDULER``."""
    from .usecases.compute import engine_spec

    return engine_spec(request.app.state.settings.compute, service=True)


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
EngineDep = Annotated[object, Depends(get_engine_spec)]


@dataclass(frozen=True)
class Caller:
    """Who is asking: a role, and the API key (or share link) that gave it."""

    role: str
    key_id: str | None = None
    name: str = "anonymous"

    def at_least(self, minimum: str) -> bool:
        return role_at_least(self.role, minimum)


async def current_caller(
    store: StoreDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(description="API key (hsk_…)")] = None,
) -> Caller:
    """The caller's role from ``X-API-Key`` or ``Authorization: Bearer``; none → public."""
    key = x_api_key
    if key is None and authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Problem(
                401,
                "expected 'Authorization: Bearer <API key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        key = token.strip()
    if key is None:
        return Caller("public")
    key_hash = hash_key(key)  # a key this process remembers needs no worker thread
    record = store.remembered_api_key(key_hash) or await run_in_threadpool(
        store.api_key_by_hash, key_hash
    )
    if record is None or record.revoked_at is not None:
        raise Problem(
            401,
            "the API key is unknown or has been revoked",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Caller(record.role, record.key_id, record.name)


CallerDep = Annotated[Caller, Depends(current_caller)]


def require(minimum: str):
    """A dependency refusing callers below ``minimum`` with 403 (401 when anonymous)."""
    if minimum not in ROLES:
        raise ValueError(f"unknown role {minimum!r}")

    def check(caller: CallerDep) -> Caller:
        if not caller.at_least(minimum):
            if caller.key_id is None:
                raise Problem(
                    401,
                    f"this needs an API key with the {minimum} role or higher",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            raise Problem(
                403, f"this needs the {minimum} role or higher; your key is {caller.role}"
            )
        return caller

    return check


async def caller_disclosure(caller: CallerDep, settings: SettingsDep) -> Disclosure:
    """The disclosure policy of the caller's role (:mod:`api.disclosure`)."""
    return Disclosure.for_role(caller.role, settings)


DisclosureDep = Annotated[Disclosure, Depends(caller_disclosure)]
AnalystDep = Annotated[Caller, Depends(require("analyst"))]
PartnerDep = Annotated[Caller, Depends(require("partner"))]
