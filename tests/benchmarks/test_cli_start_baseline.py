"""The start-up benchmark's baseline is the eager command line it claims to be: every
module a command imports inside its function, read from ``api/cli/``, and each one
importable (a typo or a moved module would make the baseline quietly cheaper)."""

from __future__ import annotations

import importlib.util

from benchmarks.bench_cli_start import deferred_imports


def test_the_baseline_imports_what_the_commands_defer():
    mods = deferred_imports()
    # the web service, the analysis, planning and maps, the store: all deferred today
    assert {"api.app", "uvicorn", "hotspots.analysis", "hotspots.planner"} <= set(mods)
    assert {"geodata.stores", "api.usecases.maps", "api.usecases.plans"} <= set(mods)
    missing = [m for m in mods if importlib.util.find_spec(m) is None]
    assert missing == []
