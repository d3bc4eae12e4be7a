"""Provenance: everything that produced a result, and a stable run id derived from it.

The same method, parameters (including automatic choices), data window,
batches (with their content hashes), weights version, seed and library
versions give the same run id — and the same numbers — every time.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata

LIBRARIES = ("numpy", "scipy", "scikit-learn", "pandas", "shapely", "pyproj", "h3", "geopandas")


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass
class Provenance:
    method: str
    parameters: dict
    automatic: dict  # parameter -> {"value": ..., "reason": ...}
    window: dict  # {"start": ..., "end": ..., "months": [...]}
    categories: list[str] | None
    batches: dict[str, str]  # batch id -> content hash
    weights_version: str
    concern_profile: str
    ranking_weights: dict
    seed: int
    n_incidents: int
    libraries: dict = field(default_factory=library_versions)
    #: seconds per stage of the run (timing only: not part of the run id)
    stages: dict = field(default_factory=dict)
    #: where the run was computed: ``{"backend": "local"}`` or the Dask cluster's scheduler,
    #: workers and partitioning (not part of the run id: both give the same result)
    execution: dict = field(default_factory=dict)
    run_id: str = ""

    def __post_init__(self) -> None:
        self.run_id = self.compute_run_id()

    def compute_run_id(self) -> str:
        body = asdict(self)
        body.pop("run_id", None)
        body.pop("stages", None)
        body.pop("execution", None)
        text = json.dumps(body, sort_keys=True, default=str, separators=(",", ":"))
        return "run-" + hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return asdict(self)


class StageTimer:
    """Wall-clock seconds per named stage, for a run's provenance.

    Examples
    --------
    >>> timer = StageTimer()
    >>> with timer("select"):
    ...     pass
    >>> list(timer.seconds)
    ['select']
    """

    def __init__(self, on_stage=None) -> None:
        self.seconds: dict[str, float] = {}
        #: called as ``on_stage(name, seconds)`` when a stage ends (the CLI's progress)
        self.on_stage = on_stage

    def _add(self, name: str, spent: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + spent
        if self.on_stage is not None:
            self.on_stage(name, spent)

    def __call__(self, name: str):
        return _Stage(self, name)

    def laps(self):
        """A function ``lap(name)`` that adds the seconds since the previous lap (or since
        this call) to stage ``name``: consecutive stages of one function without nesting.

        >>> timer = StageTimer()
        >>> lap = timer.laps()
        >>> lap("index"); lap("statistics")
        >>> list(timer.seconds)
        ['index', 'statistics']
        """
        last = [time.perf_counter()]

        def lap(name: str) -> None:
            now = time.perf_counter()
            self._add(name, now - last[0])
            last[0] = now

        return lap


class _Stage:
    def __init__(self, timer: StageTimer, name: str) -> None:
        self.timer, self.name = timer, name

    def __enter__(self) -> None:
        self.t0 = time.perf_counter()

    def __exit__(self, *exc) -> None:
        self.timer._add(self.name, time.perf_counter() - self.t0)
