"""Shared pytest fixtures: where the real data lives, and skipping when it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """Return the folder of real data (../shared/data, or $RECON_CARLA_SHARED_DATA)."""
    override = os.environ.get("RECON_CARLA_SHARED_DATA")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real-data folder; tests that use it skip, saying why, on a clone without ../shared."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real data not found at {path} (a fresh clone has no ../shared/data)")
    return path


@pytest.fixture(scope="session")
def carla_maps_dir(shared_data: Path) -> Path:
    """Folder of CARLA town OpenDRIVE files."""
    return shared_data / "carla_maps"


SLOW_ENV = "RECON_CARLA_SLOW_TESTS"  # =1 runs the tests marked slow, as --run-slow does


def pytest_addoption(parser: pytest.Parser) -> None:
    """--run-slow: also run the tests marked `slow` (minutes each on 2 shared cores; CI leaves them out)."""
    parser.addoption("--run-slow", action="store_true", help=f"run tests marked slow (or set {SLOW_ENV}=1)")


def pytest_configure(config: pytest.Config) -> None:
    """Register the `slow` marker."""
    config.addinivalue_line("markers", f"slow: minutes long; skipped unless --run-slow or {SLOW_ENV}=1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the slow tests unless asked for."""
    if config.getoption("--run-slow") or os.environ.get(SLOW_ENV):
        return
    skip = pytest.mark.skip(reason=f"slow: run with --run-slow or {SLOW_ENV}=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
