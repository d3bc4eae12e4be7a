"""Checks of the test infrastructure itself (scripts, PostGIS, CI skip rule)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = [*sorted((REPO_ROOT / "scripts").glob("*.sh")), REPO_ROOT / ".ci" / "run"]


@pytest.mark.postgis
def test_postgis_database_works(postgis_url: str) -> None:
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(postgis_url, connect_timeout=10) as conn:
        version = conn.execute("SELECT postgis_full_version()").fetchone()[0]
        point = conn.execute(
            "SELECT ST_AsText(ST_Transform(ST_SetSRID(ST_MakePoint(0, 51.5), 4326), 27700))"
        ).fetchone()[0]
    assert "POSTGIS=" in version
    assert point.startswith("POINT(")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_shell_scripts_parse(script: Path) -> None:
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


SKIPPED_UNDER_CI = {
    # marker: (a test that skips locally, how pytest names its skip)
    "postgis": (
        "def test_uses_db(postgis_url):\n    pass\n",
        "SKIPPED [postgis] test_x.py::test_uses_db",
    ),
    "browser": (
        "@pytest.mark.browser\ndef test_in_chromium():\n    pytest.skip('chromium is absent')\n",
        "SKIPPED [browser] test_x.py::test_in_chromium",
    ),
}


@pytest.mark.parametrize("marker", SKIPPED_UNDER_CI)
def test_ci_fails_when_a_marked_test_is_skipped(tmp_path: Path, marker: str) -> None:
    """Under CI=true, a skipped postgis (or browser) test turns a green run into exit 1."""
    skipping_test, reported = SKIPPED_UNDER_CI[marker]
    shutil.copy(REPO_ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    postgis: x\n    shared_data: x\n    browser: x\n"
    )
    (tmp_path / "test_x.py").write_text(
        "import pytest\n\n\ndef test_plain():\n    pass\n\n\n" + skipping_test
    )
    env = {k: v for k, v in os.environ.items() if k != "HOTSPOTS_TEST_DATABASE_URL"}

    def run(ci: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(tmp_path)],
            cwd=tmp_path,
            env={**env, "CI": ci},
            capture_output=True,
            text=True,
        )

    local = run("")
    assert local.returncode == 0, local.stdout + local.stderr
    ci = run("true")
    assert ci.returncode == 1, ci.stdout + ci.stderr
    assert reported in ci.stdout
