"""Backtests and intervention evaluations stored as runs, whichever door asks.

``hotspots backtest`` and ``POST /backtests``, ``hotspots evaluate`` and ``POST
/interventions/{id}/evaluation`` call :func:`stored_backtest` / :func:`stored_evaluation`:
the request (built here from the use case's own arguments, so both doors make the
same one) with the stored batches and library versions is the run's key
(:func:`api.usecases.analyse.request_key`); an identical request on unchanged data finds its
run by that indexed key and answers from it, anything else is computed and stored as a
run (method ``backtest`` or ``evaluation``) holding the JSON document the doors answer.

Both are analysts' work: below analyst a stored document shows nothing
(:meth:`api.disclosure.Disclosure.run_view`), it is not a map and is never shared.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from geodata.errors import NotFound
from geodata.model import RunRecord
from geodata.stores import Store

from ..disclosure import DOCUMENT_TYPE
from ..security import now_utc
from .analyse import disclosed_summary, request_key


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def stored_document(
    store: Store, method: str, request: dict, compute: Callable[[], dict]
) -> tuple[RunRecord, bool]:
    """The run of ``method`` for ``request`` (found by its key), or a new one from
    ``compute()``'s document; True when made now."""
    from .evaluation import finite_json

    request = _plain(request)
    key = request_key(store, {"method": method, **request})
    found = store.run_for_request(key)
    if found is not None:
        return found, False
    doc = finite_json(_plain(compute()))
    run_id = f"{method}-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    record = RunRecord(
        run_id=run_id,
        method=method,
        params={"request": request, "request_key": key},
        provenance={
            "method": method,
            "run_id": run_id,
            "n_incidents": doc.get("incidents"),
            "categories": request.get("categories"),
            "coverage": doc.get("coverage"),
            "batches": sorted([b.batch_id, b.content_hash] for b in store.list_batches()),
        },
        result={"type": DOCUMENT_TYPE, "run_id": run_id, "document": doc},
        created_at=now_utc(),
    )
    record.params["disclosed"] = disclosed_summary(record)
    if not store.save_run(record):  # made at the same moment by another request
        record = store.get_run(run_id) or record
    return record, True


def document_of(run: RunRecord) -> dict:
    """A stored backtest's or evaluation's document, with its run id."""
    return {**run.result["document"], "run_id": run.run_id}


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def stored_backtest(store: Store, **kw: Any) -> tuple[dict, bool]:
    """(the backtest's document with its ``run_id``, made now) for
    :func:`api.usecases.backtests.run_backtest`'s keyword arguments."""
    from .backtests import run_backtest

    request = {
        **kw,
        "start": _when(kw.get("start")),
        "end": _when(kw.get("end")),
        "categories": sorted(kw["categories"]) if kw.get("categories") else None,
    }
    run, created = stored_document(store, "backtest", request, lambda: run_backtest(store, **kw)[1])
    return document_of(run), created


def stored_evaluation(store: Store, intervention_id: str, **kw: Any) -> tuple[dict, bool]:
    """(the evaluation's document with its ``run_id``, made now) for
    :func:`api.usecases.evaluation.evaluate_intervention`'s arguments. The intervention as
    logged is part of the request: changing it makes a new evaluation; deleting it keeps
    its evaluations (they are history)."""
    from .evaluation import evaluate_intervention

    record = store.get_intervention(intervention_id)
    if record is None:
        raise NotFound(f"no intervention {intervention_id!r}; see `hotspots interventions list`")
    weights = kw.get("harm_weights")
    request = {
        "intervention": asdict(record),
        **kw,
        "harm_weights": weights.to_mapping() if weights is not None else None,
        "categories": sorted(kw["categories"]) if kw.get("categories") else None,
    }
    run, created = stored_document(
        store,
        "evaluation",
        request,
        lambda: evaluate_intervention(store, intervention_id, **kw),
    )
    return document_of(run), created
