"""Threads of their own for the short reads GIS clients send by the hundred.

Every synchronous endpoint runs on the worker threads (``HOTSPOTS_WORKER_THREADS``,
default 8), and long requests (analyses and plans waiting on their child process,
imports) need several of them. The reads a map or GIS client sends many of at once (a
page of features, one feature, a vector tile) are short work in this process; eight of
them sharing the interpreter each take about eight times as long and together use more
CPU than two at a time: OGC mixed load at 50 clients on 100k incidents, one process,
p99 148 -> 121 ms on the embedded store and 150 -> 119 ms on PostGIS with 2 threads
instead of 8 (2 alternated runs each; 4 threads: 135 and 127 ms). An endpoint marked
with :func:`read_lane` runs on threads of its own (``HOTSPOTS_READ_THREADS``, default
2), so long requests neither wait for those reads nor slow them down.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar

T = TypeVar("T")
#: threads of the lane when the app's lifespan did not size it (tests of one route)
DEFAULT_THREADS = 2
_LANE: RunVar[CapacityLimiter] = RunVar("hotspots_read_lane")


def open_lane(threads: int) -> None:
    """Size the lane of the running event loop (from the app's lifespan)."""
    _LANE.set(CapacityLimiter(threads))


def lane() -> CapacityLimiter:
    """The running event loop's lane."""
    try:
        return _LANE.get()
    except LookupError:
        limiter = CapacityLimiter(DEFAULT_THREADS)
        _LANE.set(limiter)
        return limiter


def read_lane(endpoint: Callable[..., T]) -> Callable[..., Any]:
    """``endpoint`` (synchronous, with its signature kept for FastAPI) run on the lane."""

    @functools.wraps(endpoint)
    async def on_lane(*args: Any, **kwargs: Any) -> T:
        call = functools.partial(endpoint, *args, **kwargs)
        return await to_thread.run_sync(call, limiter=lane())

    return on_lane
