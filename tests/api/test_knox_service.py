"""The Knox use case both doors run (``api.usecases.knox``), on both stores: the route's
answer is the use case's, refusals name what to narrow, and risk zones default to the
window's last day."""

from __future__ import annotations

from datetime import datetime

import pytest

from api.routes.knox import KNOX_LIMITS
from api.usecases.knox import KnoxError, KnoxLimits, KnoxQuery, run_knox

PAYLOAD = {
    "categories": ["burglary"],
    "from": "2022-01",
    "to": "2022-12",
    "space_bands_m": [0, 200, 400],
    "permutations": 19,
    "risk_zones": True,
}
QUERY = KnoxQuery(
    categories=["burglary"],
    start=datetime(2022, 1, 1),
    end=datetime(2023, 1, 1),
    space_bands_m=[0.0, 200.0, 400.0],
    permutations=19,
    risk_zones=True,
)


@pytest.fixture(scope="module")
def env(api_env):
    return api_env


def test_the_route_answers_what_the_use_case_answers(env) -> None:
    r = env.post("/knox", json=PAYLOAD)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc == run_knox(env.store, QUERY)
    assert doc["month_precision"] is True and doc["time_bands_days"] == [0, 1, 32, 63, 93]
    # zones are active on the window's last day unless a day is asked for
    assert doc["risk_zones"]["as_of"] == "2022-12-31"
    asked = env.post("/knox", json={**PAYLOAD, "as_of": "2022-11-15"}).json()
    assert asked["risk_zones"]["as_of"] == "2022-11-15"


def test_work_beyond_the_request_limits_is_refused_with_what_to_narrow(env) -> None:
    n = env.post("/knox", json=PAYLOAD).json()["n_events"]
    with pytest.raises(KnoxError) as many:
        run_knox(env.store, QUERY, KnoxLimits(incidents=n - 1))
    assert many.value.status == 409 and many.value.errors[0]["field"] == "categories"
    assert f"{n:,} incidents match" in many.value.message
    with pytest.raises(KnoxError) as draws:
        run_knox(env.store, QUERY, KnoxLimits(pair_draws=1_000))
    ask = draws.value.errors[0]
    assert draws.value.status == 409 and ask["field"] == "permutations"
    assert "pairs of incidents lie within 400 m" in draws.value.message
    # without limits (the command line) the same query is answered
    assert run_knox(env.store, QUERY)["n_events"] == n
    # the route applies its limits: 9,999 permutations over every incident is too much
    big = env.post("/knox", json={**PAYLOAD, "categories": ["violent-crime"], "permutations": 9999})
    assert big.status_code == 409 and big.headers["content-type"] == "application/problem+json"
    body = big.json()
    assert body["errors"][0]["field"] in ("categories", "permutations")
    assert KNOX_LIMITS.incidents == 20_000


def test_fewer_than_two_incidents_is_a_conflict_naming_categories(env) -> None:
    r = env.post("/knox", json={**PAYLOAD, "from": "1990-01", "to": "1990-02"})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "categories"
    assert "needs at least two" in r.json()["detail"]
