"""What the command line imports (issue 11, item 4): ``hotspots --help`` and every
command's ``--help`` load none of the data stack, and the light commands load the
store's own libraries only — no analysis, maps, web framework or SciPy — because
every command module imports those inside the command that needs them.

A test of behaviour (which modules a fresh process ends up holding), not of timing:
the timings are ``benchmarks/bench_cli_start.py``'s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import typer.main

from api.cli import app

#: the data stack: what a store-opening command may load, and nothing else may
STORE_STACK = {"pandas", "geopandas", "numpy", "pyarrow", "duckdb", "shapely", "pyproj"}
#: data frames: only commands that compute on incidents (coverage, import, analyse, …)
FRAMES = {"pandas", "geopandas"}
#: analysis, maps, the web service: only the commands that compute or serve load these
HEAVY = {
    "scipy",
    "sklearn",
    "numba",
    "h3ronpy",
    "folium",
    "jinja2",
    "fastapi",
    "starlette",
    "uvicorn",
    "hotspots",
    "maps",
}

PROBE = """
import json, sys
from api.cli import main
for argv in json.loads(sys.argv[1]):
    sys.argv = ["hotspots", *argv]
    try:
        main()
    except SystemExit:
        pass
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def loaded_after(*commands: list[str], store=None) -> set[str]:
    """The top-level packages a fresh process holds after running these commands."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOTS_")}
    if store is not None:
        env["HOTSPOTS_DUCKDB_PATH"] = str(store)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(commands)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def every_help() -> list[list[str]]:
    """``--help`` of the app, of every group and of every command in it."""
    group = typer.main.get_command(app)
    pages = [["--help"]]
    for name, cmd in group.commands.items():
        pages.append([name, "--help"])
        pages.extend([name, sub, "--help"] for sub in getattr(cmd, "commands", {}))
    return pages


def test_help_pages_load_none_of_the_data_stack():
    pages = every_help()
    assert (
        len(pages) > 30 and ["analyse", "--help"] in pages and ["runs", "show", "--help"] in pages
    )
    loaded = loaded_after(*pages)
    assert not loaded & (STORE_STACK | HEAVY), sorted(loaded & (STORE_STACK | HEAVY))


@pytest.mark.parametrize(
    "command",
    [
        ["batches", "--json"],
        ["keys", "list", "--json"],
        ["runs", "--json"],
        ["share", "list", "--json"],
        ["coverage", "--json"],
        ["interventions", "list", "--json"],
        ["quarantine", "--json"],
        ["db", "status", "--json"],
    ],
)
def test_light_commands_load_the_store_and_nothing_heavier(command, tmp_path):
    loaded = loaded_after(command, store=tmp_path / "s.duckdb")
    assert "duckdb" in loaded  # the command ran and opened the store
    assert not loaded & HEAVY, sorted(loaded & HEAVY)
    if command[0] != "coverage":  # listing rows needs no data frames (pandas ~0.5 s)
        assert not loaded & FRAMES, sorted(loaded & FRAMES)


def test_a_computing_command_still_finds_what_it_imports_late(tmp_path):
    """The other side: the deferred imports are real and resolve (``analyse`` on an empty
    store gets as far as the analysis stack and reports no incidents)."""
    loaded = loaded_after(["analyse", "--json"], store=tmp_path / "s.duckdb")
    assert {"hotspots", "duckdb"} <= loaded
