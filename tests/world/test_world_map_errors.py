"""Opening worlds by town name and from OpenDRIVE: clear errors for unknown towns and bad files."""
from __future__ import annotations

from pathlib import Path

import carla
import pytest

import recon_carla_bridge
from recon_carla_bridge.errors import InputError, MapNotFoundError
from recon_carla_bridge.paths import BUNDLED_MAPS_DIR


def test_unknown_town_names_the_town_and_the_searched_folders(tmp_path: Path) -> None:
    client = recon_carla_bridge.Client("localhost", 2000, map_dirs=[tmp_path, BUNDLED_MAPS_DIR])
    with pytest.raises(MapNotFoundError) as error:
        client.load_world("Town99")
    message = str(error.value)
    assert "Town99" in message and str(tmp_path) in message and str(BUNDLED_MAPS_DIR) in message
    assert "Crossing" in message, "the message lists the towns that do exist"
    assert isinstance(error.value, RuntimeError), "CARLA raises RuntimeError for unknown maps"


def test_town_names_as_carla_spells_them() -> None:
    client = recon_carla_bridge.Client("localhost", 2000, map_dirs=[BUNDLED_MAPS_DIR])
    for name in ("Crossing", "/Game/Carla/Maps/Crossing"):
        assert client.load_world(name).get_map().name == "Carla/Maps/Crossing"
    layered = client.load_world("/Game/Carla/Maps/Crossing_Opt").get_map()  # CARLA keeps the _Opt name
    assert layered.name == "Carla/Maps/Crossing_Opt"
    assert layered.to_opendrive() == client.load_world("Crossing").get_map().to_opendrive()
    assert client.load_world_if_different("Crossing") is None
    assert client.load_world_if_different("Loop").get_map().name == "Carla/Maps/Loop"
    towns = [f"/Game/Carla/Maps/{n}" for n in ("Crossing", "Loop", "StraightRoad")]
    assert client.get_available_maps() == towns + ["kitti", "kitti_0013"]  # the towns, then the bundled scenes


def test_a_new_world_starts_empty_of_vehicles() -> None:
    client = recon_carla_bridge.Client("localhost", 2000, map_dirs=[BUNDLED_MAPS_DIR])
    world = client.load_world("Loop")
    world.spawn_actor(world.get_blueprint_library().find("vehicle.audi.a2"), world.get_map().get_spawn_points()[0])
    assert len(world.get_actors().filter("vehicle.*")) == 1
    fresh = client.reload_world()
    assert fresh is not world and fresh.id != world.id
    assert len(fresh.get_actors().filter("vehicle.*")) == 0
    assert fresh.get_map().name == world.get_map().name


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('<OpenDRIVE><header/><road id="1"', "malformed"),
        ("<Map><road/></Map>", "<Map>"),
        ('<OpenDRIVE><header revMajor="1" revMinor="4"/></OpenDRIVE>', "no <road>"),
        ("", "malformed"),
    ],
)
def test_malformed_opendrive_is_an_input_error_naming_the_file(tmp_path: Path, text: str, complaint: str) -> None:
    bad = tmp_path / "Broken.xodr"
    bad.write_text(text)
    by_name = recon_carla_bridge.Client("localhost", 2000, map_dirs=[tmp_path])
    with pytest.raises(InputError, match=complaint) as error:
        by_name.load_world("Broken")
    assert str(bad) in str(error.value)
    by_path = recon_carla_bridge.Client("localhost", 2000, map_dirs=[BUNDLED_MAPS_DIR])
    with pytest.raises(InputError, match=complaint):
        by_path.load_world(str(bad))


def test_missing_xodr_path_is_map_not_found(tmp_path: Path) -> None:
    client = recon_carla_bridge.Client("localhost", 2000, map_dirs=[BUNDLED_MAPS_DIR])
    missing = tmp_path / "Nowhere.xodr"
    with pytest.raises(MapNotFoundError, match="Nowhere.xodr"):
        client.load_world(str(missing))


def test_generate_opendrive_world_from_text() -> None:
    client = recon_carla_bridge.Client("localhost", 2000, map_dirs=[BUNDLED_MAPS_DIR])
    text = (BUNDLED_MAPS_DIR / "StraightRoad.xodr").read_text()
    world = client.generate_opendrive_world(text)
    assert isinstance(world, carla.World) and world.get_map().name == "OpenDriveMap"
    assert len(world.get_map().get_spawn_points()) > 10
    with pytest.raises(InputError, match="OpenDRIVE"):
        client.generate_opendrive_world("not xml at all")
    assert client.get_world() is world, "a failed load keeps the current world"
