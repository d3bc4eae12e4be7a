"""Driving the ``hotspots`` command line from tests, as a script would (``--json``).

Imported by the CLI test modules in this folder (pytest puts it on ``sys.path``),
like ``synthetic_intervention.py``.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, object]:
    """Run ``hotspots ARGS --json``: its exit code and the one JSON document it printed.

    Fails the test when stdout is not exactly one JSON document.
    """
    result = runner.invoke(app, [*args, "--json"])
    try:
        doc = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"not one JSON document (exit {result.exit_code}):\n{result.output}")
    return result.exit_code, doc
