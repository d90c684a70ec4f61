"""Bad input to `recon-carla scenario`: clear errors naming what is wrong, exit code 2, no crash."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recon_carla_bridge.cli", "scenario", *args],
                          capture_output=True, text=True, timeout=300)


def test_malformed_scenario_xml_names_the_file_and_position(tmp_path: Path) -> None:
    """A truncated scenario XML is reported with its path and the parser's line/column."""
    bad = tmp_path / "Broken.xml"
    bad.write_text('<?xml version="1.0"?>\n<scenarios>\n  <scenario name="X" type="FollowLeadingVehicle" town="Town01">\n')
    result = _run("--scenario", "X", "--configFile", str(bad))
    assert result.returncode == 2
    assert str(bad) in result.stderr and "malformed XML" in result.stderr and "line" in result.stderr


def test_unknown_town_names_the_town(tmp_path: Path) -> None:
    """A scenario on a town with no .xodr fails (exit 1, other scenarios would still run) naming the town."""
    config = tmp_path / "Nowhere.xml"
    config.write_text('<?xml version="1.0"?>\n<scenarios>\n  <scenario name="Nowhere_1" type="FreeRide" town="Town99">\n'
                      '    <ego_vehicle x="0" y="0" z="0" yaw="0" model="vehicle.lincoln.mkz_2017" />\n'
                      '  </scenario>\n</scenarios>\n')
    result = _run("--scenario", "Nowhere_1", "--configFile", str(config))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Town99" in result.stderr and "unknown map" in result.stderr


def test_unknown_scenario_name(tmp_path: Path) -> None:
    """Asking for a scenario that no configuration file defines names the scenario."""
    config = tmp_path / "Empty.xml"
    config.write_text('<?xml version="1.0"?>\n<scenarios></scenarios>\n')
    result = _run("--scenario", "DoesNotExist_1", "--configFile", str(config))
    assert result.returncode == 2 and "DoesNotExist_1" in result.stderr


def test_missing_agent_file() -> None:
    """An --agent path that does not exist is named in the error."""
    result = _run("--scenario", "X", "--agent", "/nonexistent/my_agent.py")
    assert result.returncode == 2 and "/nonexistent/my_agent.py" in result.stderr


def test_malformed_openscenario_names_the_file(tmp_path: Path) -> None:
    """A malformed .xosc is reported with its path."""
    bad = tmp_path / "bad.xosc"
    bad.write_text("<OpenSCENARIO><FileHeader")
    result = _run("--openscenario", str(bad))
    assert result.returncode == 2 and str(bad) in result.stderr


def test_unknown_blueprint_in_scenario_config(shared_data: Path, tmp_path: Path) -> None:
    """An ego model that is not a blueprint: srunner's own behaviour (warn naming it, use its category's default)."""
    config = tmp_path / "BadModel.xml"
    config.write_text('<?xml version="1.0"?>\n<scenarios>\n  <scenario name="BadModel_1" type="FreeRide" town="Town01">\n'
                      '    <ego_vehicle x="107" y="133" z="0.5" yaw="0" model="vehicle.nosuch.car" />\n'
                      '  </scenario>\n</scenarios>\n')
    result = _run("--scenario", "BadModel_1", "--configFile", str(config), "--maxSimTime", "5", "--output")
    assert "Actor model vehicle.nosuch.car not available" in result.stdout
    assert result.returncode == 0 and "CollisionTest" in result.stdout


def test_unknown_blueprint_id_in_the_python_api() -> None:
    """blueprint_library.find of an unknown id raises IndexError naming it and suggesting close ids."""
    import recon_carla_bridge

    from recon_carla_bridge.world.maps import ReconMap
    from recon_carla_bridge.world.world import World

    del recon_carla_bridge
    xodr = (Path(__file__).resolve().parents[2] / "recon_carla_bridge" / "data" / "maps")
    maps = sorted(xodr.glob("*.xodr"))
    if not maps:
        pytest.skip("no bundled maps built yet")
    world = World(ReconMap("Bundled", maps[0].read_text(), maps[0]))
    with pytest.raises(IndexError, match=r"vehicle\.lincoln\.mkz2020.*did you mean vehicle\.lincoln\.mkz_2020"):
        world.get_blueprint_library().find("vehicle.lincoln.mkz2020")
