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
