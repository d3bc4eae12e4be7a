"""Test infrastructure shared by the whole suite.

- ``postgis_url``: URL of a PostGIS database (``HOTSPOTS_TEST_DATABASE_URL``),
  skipping the test when it is unset. ``make test`` starts a throwaway cluster
  and sets it.
- ``shared_data``: path of ``../shared/data`` beside the repo; skips when absent,
  fails under ``CI=true``.
- ``chromium_path``: Debian's ``/usr/bin/chromium`` for ``browser`` tests (driven by
  Playwright's Python package); skips when it or Playwright is absent.
- Under ``CI=true`` a skipped test marked ``postgis``, ``shared_data`` or ``browser``
  (or using the fixture of that name) fails the run: CI must never pass by skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
DATABASE_URL_ENV = "HOTSPOTS_TEST_DATABASE_URL"

# Markers whose skips fail a CI run, and the fixture that implies each of them.
CI_REQUIRED_MARKERS = {
    "postgis": "postgis_url",
    "shared_data": "shared_data",
    "browser": "chromium_path",
}
CHROMIUM = Path("/usr/bin/chromium")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def postgis_url() -> str:
    url = os.environ.get(DATABASE_URL_ENV)
    if not url:
        pytest.skip(f"{DATABASE_URL_ENV} is not set (make test starts a PostGIS cluster)")
    return url


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        message = f"shared data folder {SHARED_DATA} is absent"
        if in_ci():
            pytest.fail(f"{message} (CI=true requires it)", pytrace=False)
        pytest.skip(message)
    return SHARED_DATA


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (scripts/install-browser.sh installs Debian's chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[test]')")
    return CHROMIUM


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A test using the postgis_url / shared_data fixture gets the matching marker,
    # so `-m "not postgis"` deselects it and the CI rule below covers it.
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        for marker, fixture in CI_REQUIRED_MARKERS.items():
            if fixture in fixtures and item.get_closest_marker(marker) is None:
                item.add_marker(marker)


def pytest_configure(config: pytest.Config) -> None:
    if in_ci():
        config.pluginmanager.register(CIRequiredSkips(), "hotspots-ci-required-skips")


class CIRequiredSkips:
    """Under CI=true, fail the run when a postgis / shared_data test was skipped."""

    def __init__(self) -> None:
        self.skipped: list[tuple[str, str, str]] = []  # (nodeid, marker, reason)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not report.skipped or hasattr(report, "wasxfail"):
            return
        for marker in CI_REQUIRED_MARKERS:
            if marker in report.keywords:
                longrepr = report.longrepr
                reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
                self.skipped.append((report.nodeid, marker, reason))
                return

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.skipped and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.skipped:
            return
        tr = terminalreporter
        tr.section("CI=true: required tests were skipped", sep="!", red=True, bold=True)
        for nodeid, marker, reason in self.skipped:
            tr.line(f"SKIPPED [{marker}] {nodeid}: {reason}", red=True)
        tr.line(
            f"{len(self.skipped)} test(s) marked postgis/shared_data/browser were skipped "
            "under CI=true; failing the run (exit 1).",
            red=True,
        )
