"""Inputs that used to end in a traceback inside srunner, or ran nothing and exited 0, are clear errors (exit 2)."""
from __future__ import annotations

from pathlib import Path

import pytest

import recon_carla_bridge
from recon_carla_bridge.cli import main
from recon_carla_bridge.errors import InputError
from recon_carla_bridge.scenario.input_checks import openscenario_parameters

EGO = '<ego_vehicle x="50" y="1.75" z="0.5" yaw="0" model="vehicle.lincoln.mkz_2017" />'


def _scenario_file(tmp_path: Path, attributes: str, body: str) -> Path:
    path = tmp_path / "S.xml"
    path.write_text(f'<scenarios><scenario name="S_1" {attributes}>{body}</scenario></scenarios>')
    return path


@pytest.mark.parametrize(("attributes", "body", "message"), [
    ('type="FreeRide" town="StraightRoad"', "", "no <ego_vehicle> element"),
    ('type="FreeRide"', EGO, "attribute 'town' is missing"),
    ('town="StraightRoad"', EGO, "attribute 'type' is missing"),
    ('type="FreeRide" town="StraightRoad"', EGO.replace('x="50"', 'x="nan"'), "not a finite number"),
    ('type="FreeRide" town="StraightRoad"', EGO.replace('x="50"', 'x="5000"'), "off the map"),
])
def test_scenario_xml_errors_name_the_file_scenario_and_field(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                               attributes: str, body: str, message: str) -> None:
    path = _scenario_file(tmp_path, attributes, body)
    code = main(["scenario", "--scenario", "S_1", "--configFile", str(path), "--agent", "none", "--maxSimTime", "0.2"])
    error = capsys.readouterr().err
    assert code == 2 and message in error and "S_1" in error and "Traceback" not in error


def test_route_arguments_and_route_files_that_would_run_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    scenarios = tmp_path / "scenarios.json"
    scenarios.write_text('{"available_scenarios": []}')
    cases = {
        "<routes></routes>": "no <route> element; nothing to run",
        '<routes><route id="0" town="StraightRoad"></route></routes>': "needs at least 2 waypoints, found 0",
        '<routes><route id="0" town="StraightRoad"><waypoint x="5" y="1.75" z="0"/></route></routes>':
            "needs at least 2 waypoints, found 1",
    }
    for text, message in cases.items():
        routes = tmp_path / "routes.xml"
        routes.write_text(text)
        assert main(["scenario", "--route", str(routes), str(scenarios)]) == 2
        assert message in capsys.readouterr().err
    assert main(["scenario", "--route", str(routes)]) == 2  # srunner opened '' and raised FileNotFoundError
    assert "also needs the scenarios JSON" in capsys.readouterr().err


def test_openscenario_parameter_overrides_are_checked_against_the_declarations(tmp_path: Path) -> None:
    xosc = tmp_path / "S.xosc"
    xosc.write_text('<OpenSCENARIO><ParameterDeclarations>'
                    '<ParameterDeclaration name="speed" parameterType="double" value="2.0"/>'
                    '<ParameterDeclaration name="count" parameterType="integer" value="2"/>'
                    '</ParameterDeclarations></OpenSCENARIO>')
    assert openscenario_parameters(xosc, "speed:4.5,$count:3") == {"speed": "4.5", "count": "3"}
    for overrides, message in (("speed:fast", "not a valid double"), ("count:2.5", "not a valid integer"),
                               ("sped:4", "declares no parameter 'sped' .declared: count, speed"),
                               ("speed", "is not 'name:value'"), ("speed:nan", "not a valid double")):
        with pytest.raises(InputError, match=message):
            openscenario_parameters(xosc, overrides)


def test_load_world_and_spawn_actor_with_none_are_clear_errors() -> None:
    client = recon_carla_bridge.Client(town="StraightRoad")
    with pytest.raises(InputError, match="load_world: expected a map name"):
        client.load_world(None)
    world = client.get_world()
    with pytest.raises(InputError, match="expected a carla.Transform, got NoneType"):
        world.spawn_actor(world.get_blueprint_library().find("vehicle.lincoln.mkz_2020"), None)
