"""Days-of-action plans stored as runs: what ``hotspots plan`` and ``POST /plans`` share.

A plan is made for each view it may be shown in and stored as one run (method
``plan``), so that it can be listed (``hotspots runs``, ``GET /runs``), mapped
(``hotspots map RUN``, ``GET /runs/{id}/map``) and shared with a neighbourhood team
(``hotspots share RUN``, ``POST /share-links``) like a hotspot run:

- ``analyst``: the plan as an analyst makes it (sensitive incidents included, every
  place named);
- ``restricted``: the same request made as a partner is (:mod:`api.disclosure`):
  without sensitive incidents, and no site on fewer than ``min_places`` distinct
  places. Partners, and share links, only ever get this one; the public gets no plan.

An identical request on unchanged data finds its run by the indexed request key
(:func:`api.usecases.analyse.request_key`), whichever door asks and whichever role.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

from geodata.model import RunRecord
from geodata.stores import Store
from hotspots.harm import HarmWeights
from hotspots.plan_model import Plan, PlanParams
from hotspots.provenance import library_versions

from ..disclosure import PLAN_TYPE, Disclosure
from ..security import now_utc
from .analyse import disclosed_summary, request_key
from .plans import plan_from_store

METHOD = "plan"


@dataclass(frozen=True)
class PlanRequest:
    """A plan as asked for, by either door: the plan's parameters and the area's text."""

    params: PlanParams
    area: str | None = "borough"
    include_artefacts: bool = False
    forecast: bool = False

    def to_dict(self) -> dict:
        return {
            "area": (self.area or "borough").strip(),
            "params": self.params.to_dict(),
            "include_artefacts": self.include_artefacts,
            "forecast": self.forecast,
        }


@dataclass
class StoredPlan:
    """A plan run, whether made now (``created``), and the plan as made now for the
    asking role (``None`` when the run was reused: its stored views answer)."""

    run: RunRecord
    created: bool
    plan: Plan | None = None

    def view(self, policy: Disclosure) -> dict:
        """The plan's GeoJSON as the policy's role may see it (with its run id)."""
        return policy.run_view(self.run.result)

    def plan_for(
        self, store: Store, request: PlanRequest, policy: Disclosure, **kw: object
    ) -> Plan:
        """The plan as an object (for the printable briefing): the one made now, or made
        again as the role's view was (the same inputs give the same plan)."""
        if self.plan is not None:
            return self.plan
        return plan_from_store(
            store,
            request.params,
            request.area,
            policy=policy if policy.analyst else replace(policy, role="partner"),
            include_artefacts=request.include_artefacts,
            forecast=request.forecast,
            **kw,  # type: ignore[arg-type]
        )


def plan_document(view: dict) -> dict:
    """A plan view as one JSON document: parameters, summary, sites in visiting order,
    route, shifts, notes, with its run id, provenance and disclosure (what ``--json`` and
    ``POST /plans`` answer)."""
    plan = view.get("plan") or {}
    return {
        "type": "days-of-action-plan",
        "run_id": view.get("run_id"),
        "params": plan.get("params"),
        "summary": plan.get("summary"),
        "method": plan.get("method"),
        "sites": [f["properties"] for f in view.get("features", [])],
        "route_lonlat": (view.get("route") or {}).get("coordinates", []),
        "shifts": plan.get("shifts"),
        "notes": list(plan.get("notes") or view.get("notes") or []),
        "provenance": view.get("provenance"),
        "disclosure": view.get("disclosure"),
    }


def _view(plan: Plan, run_id: str, batches: list) -> dict:
    doc = plan.to_geojson()
    doc["plan"]["shifts"] = plan.shifts.to_dict() if plan.shifts is not None else None
    params = doc["plan"]["params"]
    doc["provenance"] = {
        "method": METHOD,
        "run_id": run_id,
        "area": plan.area_name,
        "categories": params.get("categories"),
        "start": params.get("start"),
        "end": params.get("end"),
        "months": list(plan.months),
        "n_incidents": plan.n_incidents,
        "weights_version": plan.weights_version,
        "batches": batches,
        "libraries": library_versions(),
    }
    doc["run_id"] = run_id
    return doc


def plan_run(
    store: Store,
    request: PlanRequest,
    policy: Disclosure,
    *,
    harm_weights: HarmWeights | None = None,
) -> StoredPlan:
    """The stored plan run for ``request``, or a new one; ``policy`` is the asking role's
    (its ``min_places`` shapes the restricted view, so it is part of the request)."""
    restricted_policy = replace(policy, role="partner")
    body = {
        "plan": request.to_dict(),
        "min_places": policy.min_places,
        "harm_weights": (harm_weights or HarmWeights.default()).version,
    }
    key = request_key(store, body)
    found = store.run_for_request(key)
    if found is not None:
        return StoredPlan(found, False)
    run_id = "plan-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    batches = sorted([b.batch_id, b.content_hash] for b in store.list_batches())
    made = {}
    analyst_policy = replace(policy, role="analyst")
    for view, view_policy in (("analyst", analyst_policy), ("restricted", restricted_policy)):
        made[view] = plan_from_store(
            store,
            request.params,
            request.area,
            policy=view_policy,
            harm_weights=harm_weights,
            include_artefacts=request.include_artefacts,
            forecast=request.forecast,
        )
    views = {k: _view(p, run_id, batches) for k, p in made.items()}
    analyst = views["analyst"]
    record = RunRecord(
        run_id=run_id,
        method=METHOD,
        params={"request": body, "request_key": key},
        provenance=json.loads(json.dumps(analyst["provenance"], default=str)),
        result=json.loads(json.dumps({"type": PLAN_TYPE, "run_id": run_id, **views}, default=str)),
        created_at=now_utc(),
    )
    record.params["disclosed"] = disclosed_summary(record)
    if not store.save_run(record):  # made at the same time by another request
        record = store.get_run(run_id) or record
    return StoredPlan(record, True, made["analyst" if policy.analyst else "restricted"])
