"""Heavy computation in a worker process that can be stopped when its answer is
abandoned.

A thread cannot be stopped: an analysis that outlived the request time limit used to
go on computing (and storing) after the client had been told to try again. Here the
computation runs in a child process started from a *forkserver* (the analysis
libraries preloaded once, never a fork of the multi-threaded server). When the
request's deadline passes, the child is killed — its CPU use stops at once — and
:class:`WorkAbandoned` (a 503 problem) is raised; nothing was stored, since storing
happens in the server after the computation returns.

The deadline is the request's (set by :class:`api.timeouts.RequestTimeout` in a
context variable that follows the request into its worker thread); without one
(the CLI, tests calling use cases directly) the work runs in the calling process.
"""

from __future__ import annotations

import contextvars
import multiprocessing
import time
from collections.abc import Callable
from typing import Any, TypeVar

from geodata.errors import HotspotsError

T = TypeVar("T")
#: monotonic time by which the current request must be answered, if any
DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "hotspots_deadline", default=None
)
#: share of the time left that the computation may take (the rest is for storing it)
SHARE = 0.9
PRELOAD = ["hotspots.analysis", "hotspots.planner", "hotspots.hdbscan"]


class WorkAbandoned(HotspotsError):
    """The computation outlived the request's time limit and was stopped (a 503
    problem of type ``timeout``, its message shown: a limit, not a failure)."""

    status = 503
    type = "timeout"
    shown = True


def _context():
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def _child(conn, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    try:
        outcome: tuple[bool, Any] = (True, fn(*args, **kwargs))
    except BaseException as exc:  # sent back and raised in the server
        outcome = (False, exc)
    conn.send(outcome)
    conn.close()


def run_stoppable(fn: Callable[..., T], *args: Any, what: str = "the work", **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, in a worker process stopped at the request's deadline.

    ``fn`` and its arguments and result must pickle (module-level functions, plain
    data). Raises :class:`WorkAbandoned` if the deadline passes first, and whatever
    ``fn`` raised otherwise.
    """
    deadline = DEADLINE.get()
    if deadline is None:
        return fn(*args, **kwargs)
    ctx = _context()
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(child, fn, args, kwargs), daemon=True)
    process.start()
    child.close()
    try:
        left = max(0.0, (deadline - time.monotonic()) * SHARE)
        if not parent.poll(left):
            raise WorkAbandoned(
                f"{what} did not finish within the request time limit and was stopped; "
                "nothing was stored. Narrow it (time window, categories, fewer permutations)"
            )
        try:
            ok, value = parent.recv()
        except EOFError:  # the worker died (e.g. out of memory)
            raise WorkAbandoned(f"{what} stopped unexpectedly; nothing was stored") from None
    finally:
        if process.is_alive():
            process.kill()
        process.join(5)
        parent.close()
    if not ok:
        raise value
    return value
