"""The incidents collection's advertised extent is that of the incidents the caller's
role may see, on both stores: exactly their lon/lat bounds and times for analysts;
without sensitive incidents, and widened to whole months, for partners. Expected
values are computed here from the stored incidents, not through the OGC code."""

from __future__ import annotations

from datetime import datetime

import pyarrow.compute as pc

from geodata.ingest import context_for, import_records
from geodata.readers.council import read_council
from geodata.settings import IngestSettings
from geodata.stores import IncidentQuery


def _extent(api, role: str) -> tuple[list, list]:
    r = api.client.get("/ogc/collections/incidents", headers=api.headers[role])
    assert r.status_code == 200, r.text
    (bbox,) = r.json()["extent"]["spatial"]["bbox"]
    (interval,) = r.json()["extent"]["temporal"]["interval"]
    return bbox, interval


def _bounds(store, sensitive: bool) -> tuple[list, datetime, datetime]:
    t = store.query_incidents(
        IncidentQuery(include_sensitive=sensitive, columns=["lon", "lat", "occurred_at"])
    )
    lo = {c: pc.min(t[c]).as_py() for c in ("lon", "lat", "occurred_at")}
    hi = {c: pc.max(t[c]).as_py() for c in ("lon", "lat", "occurred_at")}
    return [lo["lon"], lo["lat"], hi["lon"], hi["lat"]], lo["occurred_at"], hi["occurred_at"]


def test_the_incident_extent_is_what_each_role_may_see(make_api_env, api_kit, tmp_path):
    with make_api_env(tmp_path) as api:
        # a sensitive case later than every other incident: it ends the analysts' span only
        late = [("Domestic abuse", 51.4405, 0.3700, "15/03/2023", "21:15")]
        csv = api_kit.write_council_csv(tmp_path / "late.csv", late, prefix="SG-2023-")
        ctx = context_for(api.store, IngestSettings(sensitive_categories=api_kit.sensitive))
        batch = read_council(csv, "noise", source="council/safeguarding", period="2023")
        assert import_records(api.store, [batch], ctx).rows_accepted == 1
        check_extents(api)


def check_extents(api_env) -> None:
    store = api_env.store
    bbox, first, last = _bounds(store, True)
    got_bbox, got_interval = _extent(api_env, "analyst")
    assert got_bbox == bbox
    assert got_interval == [first.isoformat() + "Z", last.isoformat() + "Z"]

    assert last == datetime(2023, 3, 15, 21, 15)
    shown, first, last = _bounds(store, False)
    assert last.year == 2022  # the views differ
    got_bbox, (start, end) = _extent(api_env, "partner")
    assert got_bbox == shown
    month = datetime(first.year, first.month, 1)
    after = datetime(last.year + (last.month == 12), last.month % 12 + 1, 1)
    assert (start, end) == (month.isoformat() + "Z", after.isoformat() + "Z")
