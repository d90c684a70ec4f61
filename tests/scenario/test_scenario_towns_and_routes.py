"""`recon-carla scenario` on layered `_Opt` towns, and route files in a format srunner 0.9.11 cannot read."""
from __future__ import annotations

from pathlib import Path

import pytest

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.scenario.runner import ScenarioRunner, ScenarioRunSettings


def test_layered_town_opens_its_base_roads_under_its_own_name(shared_data: Path) -> None:
    """Town10HD_Opt (the leaderboard's and ScenarioRunner's route towns) opens Town10HD's OpenDRIVE, named
    'Carla/Maps/Town10HD_Opt' as CARLA names it, so the runner's own map check passes (it raised before)."""
    from srunner.scenariomanager.carla_data_provider import CarlaDataProvider

    runner = ScenarioRunner(ScenarioRunSettings())
    try:
        runner._load_world("Town10HD_Opt")
        world_map = runner.world.get_map()
        assert world_map.name == "Carla/Maps/Town10HD_Opt"
        assert world_map.to_opendrive() == (shared_data / "carla_maps" / "Town10HD.xodr").read_text(encoding="utf-8")
        assert len(world_map.get_spawn_points()) > 50
    finally:
        CarlaDataProvider.cleanup()


def test_leaderboard_2_route_file_gets_a_clear_error(shared_data: Path, tmp_path: Path) -> None:
    """ScenarioRunner 0.9.16's routes_town10.xml uses <waypoints><position>: srunner 0.9.11's parser finds no
    waypoints in it; the error says so instead of an IndexError from an empty route."""
    routes = shared_data / "scenario_runner" / "data" / "routes_town10.xml"
    scenarios = tmp_path / "no_scenarios.json"
    scenarios.write_text('{"available_scenarios": []}')
    with pytest.raises(InputError, match=r"routes_town10.xml: route RouteScenario_0 has no <waypoint> elements"):
        ScenarioRunner(ScenarioRunSettings(route=(str(routes), str(scenarios)), max_sim_time=1.0)).run()
