"""Area tables are kept between requests while the stored batches are unchanged."""

from __future__ import annotations

import pandas as pd

from api.usecases.rates import AreaTableCache, _compute_area_table
from api.usecases.window import Window


def test_cached_area_tables_equal_fresh_ones_and_follow_imports(api_env) -> None:
    store = api_env.store
    cache = AreaTableCache()
    window = Window(None, None)
    first, borough, areas = cache.get(store, "ward", None, window)
    fresh, fresh_borough, fresh_areas = _compute_area_table(store, "ward", None, window)
    pd.testing.assert_frame_equal(first, fresh)
    assert borough == fresh_borough and list(areas["code"]) == list(fresh_areas["code"])

    first["count"] = -1  # a caller's change never reaches the cache
    again, _, _ = cache.get(store, "ward", None, window)
    pd.testing.assert_frame_equal(again, fresh)

    # deleting a batch changes the counts at once, not after the time limit
    batch = store.list_batches()[0]
    assert store.delete_batch(batch.batch_id)
    after, after_borough, _ = cache.get(store, "ward", None, window)
    pd.testing.assert_frame_equal(after, _compute_area_table(store, "ward", None, window)[0])
    assert after_borough["count"] < borough["count"]


def test_entries_expire_after_the_time_limit(api_env) -> None:
    cache = AreaTableCache(ttl_s=0.0)
    window = Window(None, None)
    calls = []

    class Counting:
        """The store, counting boundary reads (each miss reads them once)."""

        def __getattr__(self, name):
            if name == "boundaries":
                calls.append(name)
            return getattr(api_env.store, name)

    proxy = Counting()
    cache.get(proxy, "lsoa", None, window)
    cache.get(proxy, "lsoa", None, window)
    assert len(calls) == 2
    keep = AreaTableCache(ttl_s=60.0)
    calls.clear()
    keep.get(proxy, "lsoa", None, window)
    keep.get(proxy, "lsoa", None, window)
    assert len(calls) == 1
