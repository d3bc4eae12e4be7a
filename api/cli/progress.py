"""What a long command shows while it works: on stderr, on a terminal only (stdout and
``--json`` stay clean), the analysis stage last finished with its time and, on a Dask
cluster, a bar per kind of task fed by the cluster."""

from __future__ import annotations

from .output import stderr_bars


class AnalysisDisplay:
    """``with AnalysisDisplay() as shown:`` pass ``shown.stage`` as an analysis's
    ``progress`` and ``shown.tasks`` as a Dask engine's."""

    def __init__(self, what: str = "analysing") -> None:
        from rich.progress import SpinnerColumn

        self.what = what
        self.bar = stderr_bars(True, SpinnerColumn())
        self._tasks: dict[str, int] = {}
        self._stage = None
        self.stages: list[str] = []

    def __enter__(self) -> AnalysisDisplay:
        self.bar.__enter__()
        self._stage = self.bar.add_task(self.what, total=None)
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def stage(self, name: str, seconds: float) -> None:
        self.stages.append(name)
        self.bar.update(self._stage, description=f"{self.what}: {name} done ({seconds:.1f} s)")

    def tasks(self, label: str, done: int, total: int) -> None:
        if label not in self._tasks:
            self._tasks[label] = self.bar.add_task(label, total=total)
        self.bar.update(self._tasks[label], completed=done, total=total)
