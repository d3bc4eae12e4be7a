"""Command-line start-up: ``hotspots --help`` and light commands, lazy imports against eager.

Ours: the installed ``hotspots`` console script in a fresh process, as a user runs
it. Its command modules import pandas, the stores, the analysis, maps and the web
framework only inside the command that needs them (``api/cli/``).

Baseline, same run, same store, same commands: the pre-change path, where the
command line imported everything up front. It is rebuilt from the code itself:
every module any ``hotspots`` command imports inside its function (found by
reading ``api/cli/*.py`` with :mod:`ast`; the FastAPI app, the analysis and
planning stack, maps, uvicorn, …) is imported first, then the same ``main()``
runs the same command. Both print the same output (checked on ``--json``).

Floors, same run: the bare interpreter (``python -c pass``), the command line's
own modules (``import api.cli``) and the store's imports (``import geodata.stores``:
DuckDB, pyarrow, shapely and the settings; pandas and geopandas load only where a
frame is built; every command that opens a store pays these, whatever the command
line does).

``--repeat`` rounds; each round runs the floors, then every command both ways, ours
and the baseline in fresh processes with the order reversed every round
(``BENCHMARKS.md``). Printed: median (min–max) wall time, peak RSS of each process
(GNU ``time``), the ratio baseline / ours, and the load average (the machine is
shared: absolute times move with its load, the ratios much less).

The store: the Gravesham demo's police.uk zip (2022, real data) imported into a
temporary DuckDB file, one Gi* run stored and one API key made, so ``batches``,
``runs`` and ``keys list`` have rows to list.

Run: ``python -m benchmarks.bench_cli_start [--repeat 5] [--store FILE]``.
"""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOTSPOTS = Path(sys.executable).with_name("hotspots")
GNU_TIME = Path("/usr/bin/time")
COMMANDS = (("--help",), ("batches", "--json"), ("keys", "list", "--json"), ("runs", "--json"))


def deferred_imports() -> list[str]:
    """Every module a ``hotspots`` command imports inside a function (``api/cli/*.py``),
    i.e. what an eager command line would import at start."""
    mods: set[str] = set()
    for path in sorted((ROOT / "api" / "cli").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    mods.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom):
                    base = {0: "", 1: "api.cli.", 2: "api."}[node.level]
                    if node.module:
                        mods.add(base + node.module)
                    else:  # from .. import plan_service
                        mods.update(base + alias.name for alias in node.names)
    return sorted(mods)


def timed(argv: list[str], env: dict[str, str]) -> dict:
    """Run ``argv`` in a fresh process: wall seconds, peak RSS in MB (GNU time's ``%M``,
    so the figure is the command's own, not this process's image copied at fork), stdout."""
    with tempfile.NamedTemporaryFile() as rss:
        wrap = [str(GNU_TIME), "-q", "-f", "%M", "-o", rss.name] if GNU_TIME.exists() else []
        t0 = time.perf_counter()
        done = subprocess.run([*wrap, *argv], capture_output=True, env=env, cwd=ROOT)
        seconds = time.perf_counter() - t0
        if done.returncode:
            raise RuntimeError(f"{argv} exited {done.returncode}: {done.stderr[-2000:]!r}")
        kb = Path(rss.name).read_text().strip().splitlines()[-1:] if wrap else []
    return {
        "seconds": seconds,
        "rss_mb": int(kb[0]) / 1024 if kb else float("nan"),
        "stdout": done.stdout,
    }


def prepare_store(path: Path, env: dict[str, str]) -> None:
    from geodata.demo import demo_dir

    demo = demo_dir()
    for args in (
        ("import", "police", str(demo / "gravesham-police-2022.zip")),
        ("analyse", "--method", "gistar", "--categories", "anti-social-behaviour"),
        ("keys", "create", "bench", "--role", "analyst"),
    ):
        subprocess.run(
            [str(HOTSPOTS), *args, "--store", str(path)], env=env, check=True, capture_output=True
        )


def summary(runs: list[dict], key: str = "seconds") -> str:
    v = [r[key] for r in runs]
    unit = " s" if key == "seconds" else " MB"
    return f"{statistics.median(v):.2f}{unit} ({min(v):.2f}–{max(v):.2f})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--store", type=Path, help="An existing DuckDB store (default: the demo).")
    args = ap.parse_args(argv)

    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOTS_")}
    env["COLUMNS"] = "100"
    eager = deferred_imports()
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store
        if store is None:
            store = Path(tmp) / "bench.duckdb"
            t0 = time.perf_counter()
            prepare_store(store, env)
            print(f"store: Gravesham demo (police.uk 2022) in {time.perf_counter() - t0:.0f} s")
        env["HOTSPOTS_DUCKDB_PATH"] = str(store)
        print(
            f"baseline imports {len(eager)} modules first (what the commands import lazily): "
            + ", ".join(m for m in eager if not m.startswith("api.cli"))
        )
        floors = {
            "interpreter": [sys.executable, "-c", "pass"],
            "import api.cli": [sys.executable, "-c", "import api.cli"],
            "import geodata.stores": [sys.executable, "-c", "import geodata.stores"],
        }
        sides = {}
        for command in COMMANDS:
            code = (
                f"import {', '.join(eager)}\n"
                "import sys\nfrom api.cli import main\n"
                f"sys.argv = ['hotspots', *{list(command)!r}]\nmain()\n"
            )
            sides[command] = {
                "ours": [str(HOTSPOTS), *command],
                "baseline": [sys.executable, "-c", code],
            }
        runs = {key: [] for key in [*floors, *((c, k) for c in COMMANDS for k in sides[c])]}
        for i in range(args.repeat):  # every round: the floors, then each command both ways
            for name, floor_argv in floors.items():
                runs[name].append(timed(floor_argv, env))
            for command in COMMANDS:
                order = ("ours", "baseline") if i % 2 == 0 else ("baseline", "ours")
                for kind in order:
                    runs[command, kind].append(timed(sides[command][kind], env))
        print("floors: " + "; ".join(f"{name} {summary(runs[name])}" for name in floors))
        print(f"{'command':<18} {'ours (lazy)':<24} {'baseline (eager)':<24} ratio  peak RSS")
        worst = 0.0
        for command in COMMANDS:
            ours, base = runs[command, "ours"], runs[command, "baseline"]
            same = {r["stdout"] for r in ours + base}
            ours_s = statistics.median(r["seconds"] for r in ours)
            ratio = statistics.median(r["seconds"] for r in base) / ours_s
            worst = max(worst, ours_s)
            label = "hotspots " + " ".join(c for c in command if c != "--json")
            print(
                f"{label:<18} {summary(ours):<24} {summary(base):<24} {ratio:4.1f}×  "
                f"{summary(ours, 'rss_mb')} vs {summary(base, 'rss_mb')}"
                + ("" if len(same) == 1 else "  OUTPUT DIFFERS")
            )
        print(f"slowest light command (median): {worst:.2f} s (target < 1 s)")
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average now (1, 5, 15 min; {os.cpu_count()} cores): {load}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
