"""Under CI=true a skipped browser test fails the run (like postgis and shared_data)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_ci_fails_when_a_browser_test_is_skipped(tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    postgis: x\n    shared_data: x\n    browser: x\n"
    )
    (tmp_path / "test_x.py").write_text(
        textwrap.dedent(
            """
            import pytest

            def test_plain():
                pass

            @pytest.mark.browser
            def test_in_chromium():
                pytest.skip("chromium is absent")
            """
        )
    )

    def run(ci: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(tmp_path)],
            cwd=tmp_path,
            env={**os.environ, "CI": ci},
            capture_output=True,
            text=True,
        )

    local = run("")
    assert local.returncode == 0, local.stdout + local.stderr
    ci = run("true")
    assert ci.returncode == 1, ci.stdout + ci.stderr
    assert "SKIPPED [browser] test_x.py::test_in_chromium" in ci.stdout
