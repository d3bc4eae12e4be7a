"""API keys, for analysts: list them and revoke one at once (a key that leaked).

Keys are made with ``hotspots keys create`` (the key is shown once, only its hash
is stored); the same store holds them whichever door is used, so a key revoked
here stops working at once on every route, and ``hotspots keys list`` shows it.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel

from ..deps import AnalystDep, StoreDep
from ..params import KEY_ID
from ..problems import Problem
from ..security import now_utc

router = APIRouter(tags=["API keys"])
audit = logging.getLogger("hotspots.audit")


class ApiKeyPublic(BaseModel):
    key_id: str
    name: str
    role: str
    created_at: str
    revoked_at: str | None


@router.get(
    "/keys",
    operation_id="list_api_keys",
    response_model=list[ApiKeyPublic],
    summary="API keys (never the keys themselves), oldest first, as `hotspots keys list`",
)
def list_api_keys(store: StoreDep, caller: AnalystDep) -> list[dict]:
    return [k.listing() for k in store.list_api_keys()]


@router.delete(
    "/keys/{key_id}",
    operation_id="revoke_api_key",
    status_code=204,
    summary="Revoke an API key at once (it stops working on every route)",
)
def revoke_api_key(
    key_id: Annotated[str, Path(pattern=KEY_ID, description="e.g. key_0123456789ab")],
    store: StoreDep,
    caller: AnalystDep,
) -> Response:
    if not store.revoke_api_key(key_id, now_utc()):
        raise Problem(404, f"no live API key {key_id!r}; GET /keys lists them")
    audit.warning("API key %s revoked by %s (%s)", key_id, caller.name, caller.key_id)
    return Response(status_code=204)
