"""The blueprint library: CARLA's ids, wildcard filtering, attributes and their errors."""
from __future__ import annotations

import fnmatch

import carla
import pytest

from recon_carla_bridge.world.blueprints import build_blueprint_library

# Ids every CARLA 0.9.16 script may ask for (ScenarioRunner, the leaderboard, the examples).
REQUIRED_IDS = (
    "vehicle.lincoln.mkz_2020", "vehicle.tesla.model3", "vehicle.audi.a2", "vehicle.carlamotors.firetruck",
    "vehicle.ford.ambulance", "vehicle.kawasaki.ninja", "walker.pedestrian.0001", "static.prop.trafficcone01",
    "sensor.camera.rgb", "sensor.camera.depth", "sensor.camera.semantic_segmentation", "sensor.other.collision",
    "sensor.other.lane_invasion", "sensor.other.gnss", "sensor.other.imu", "sensor.speedometer",
    "sensor.opendrive_map",
)


@pytest.fixture(scope="module")
def library() -> carla.BlueprintLibrary:
    """One library for the module (find/iteration hand out copies, so tests cannot disturb each other)."""
    return build_blueprint_library()


def test_library_is_a_carla_blueprint_library_of_unique_ids(library: carla.BlueprintLibrary) -> None:
    assert isinstance(library, carla.BlueprintLibrary)
    ids = [bp.id for bp in library]
    assert len(ids) == len(set(ids)) == len(library)
    assert ids == sorted(ids)
    for bp_id in REQUIRED_IDS:
        blueprint = library.find(bp_id)
        assert isinstance(blueprint, carla.ActorBlueprint)
        assert blueprint.id == bp_id
        assert blueprint in library


@pytest.mark.parametrize("pattern", ["vehicle.*", "*mkz*", "sensor.other.*", "walker.pedestrian.*", "*.tesla.*", "*"])
def test_filter_matches_ids_like_fnmatch(library: carla.BlueprintLibrary, pattern: str) -> None:
    ids = {bp.id for bp in library}
    expected = {bp_id for bp_id in ids if fnmatch.fnmatchcase(bp_id, pattern)}
    assert expected, "each pattern matches something"
    # (a tag that matches these patterns always belongs to an id that matches too)
    assert {bp.id for bp in library.filter(pattern)} == expected


def test_filter_by_tag_and_by_attribute(library: carla.BlueprintLibrary) -> None:
    # CARLA also matches tags: 'lincoln' alone names both Lincolns, 'mkz_2020' the new one.
    assert sorted(bp.id for bp in library.filter("lincoln")) == ["vehicle.lincoln.mkz_2017", "vehicle.lincoln.mkz_2020"]
    assert [bp.id for bp in library.filter("mkz_2020")] == ["vehicle.lincoln.mkz_2020"]
    assert len(library.filter("no_such_thing_*")) == 0
    two_wheels = library.filter("vehicle.*").filter_by_attribute("number_of_wheels", 2)
    assert {bp.id for bp in two_wheels} >= {"vehicle.kawasaki.ninja", "vehicle.vespa.zx125"}
    assert all(bp.get_attribute("number_of_wheels").as_int() == 2 for bp in two_wheels)
    cars = library.filter("vehicle.*").filter_by_attribute("base_type", "car")
    assert "vehicle.lincoln.mkz_2020" in {bp.id for bp in cars}
    assert "vehicle.carlamotors.firetruck" not in {bp.id for bp in cars}


def test_find_unknown_id_raises_index_error_naming_it(library: carla.BlueprintLibrary) -> None:
    with pytest.raises(IndexError, match=r"vehicle\.lincoln\.mkz_2030"):
        library.find("vehicle.lincoln.mkz_2030")
    with pytest.raises(IndexError) as error:
        library.find("vehicle.lincoln.mkz_2030")
    assert "vehicle.lincoln.mkz_20" in str(error.value).split("did you mean")[-1]  # close matches are suggested


def test_vehicle_attributes_have_carla_types_and_recommended_values(library: carla.BlueprintLibrary) -> None:
    blueprint = library.find("vehicle.lincoln.mkz_2020")
    assert blueprint.has_tag("lincoln") and blueprint.has_attribute("color") and not blueprint.has_attribute("fov")
    color = blueprint.get_attribute("color")
    assert color.type == carla.ActorAttributeType.RGBColor and color.is_modifiable
    assert color.recommended_values and all(len(v.split(",")) == 3 for v in color.recommended_values)
    assert isinstance(color.as_color(), carla.Color)
    role = blueprint.get_attribute("role_name")
    assert role.type == carla.ActorAttributeType.String and "hero" in role.recommended_values
    wheels = blueprint.get_attribute("number_of_wheels")
    assert wheels.type == carla.ActorAttributeType.Int and wheels.as_int() == 4 and not wheels.is_modifiable
    assert wheels == 4 and int(wheels) == 4
    assert blueprint.get_attribute("has_lights").type == carla.ActorAttributeType.Bool


def test_sensor_attributes_parse_as_their_types(library: carla.BlueprintLibrary) -> None:
    camera = library.find("sensor.camera.rgb")
    assert camera.get_attribute("image_size_x").type == carla.ActorAttributeType.Int
    assert camera.get_attribute("image_size_x").as_int() > 0
    assert camera.get_attribute("fov").type == carla.ActorAttributeType.Float
    assert 0.0 < camera.get_attribute("fov").as_float() < 180.0
    assert library.find("sensor.other.gnss").get_attribute("noise_lat_stddev").as_float() == 0.0


def test_set_attribute_changes_only_that_copy(library: carla.BlueprintLibrary) -> None:
    blueprint = library.find("vehicle.tesla.model3")
    blueprint.set_attribute("role_name", "hero")
    blueprint.set_attribute("color", "10,20,30")
    assert blueprint.get_attribute("role_name").as_str() == "hero"
    assert blueprint.get_attribute("color").as_color() == carla.Color(10, 20, 30)
    fresh = library.find("vehicle.tesla.model3")
    assert fresh.get_attribute("role_name").as_str() != "hero"
    camera = library.find("sensor.camera.rgb")
    camera.set_attribute("image_size_x", 320)
    assert camera.get_attribute("image_size_x").as_int() == 320


@pytest.mark.parametrize(
    ("bp_id", "attribute", "value", "error", "message"),
    [
        ("vehicle.tesla.model3", "color", "red", RuntimeError, "color"),
        ("vehicle.tesla.model3", "color", "300,0,0", RuntimeError, "color"),
        ("vehicle.tesla.model3", "number_of_wheels", "3", RuntimeError, "not modifiable"),
        ("vehicle.tesla.model3", "no_such_attribute", "1", IndexError, "no_such_attribute"),
        ("sensor.camera.rgb", "image_size_x", "wide", RuntimeError, "image_size_x"),
        ("sensor.camera.rgb", "fov", "ninety", RuntimeError, "fov"),
    ],
)
def test_set_attribute_rejects_bad_values(library: carla.BlueprintLibrary, bp_id: str, attribute: str, value: str,
                                          error: type[Exception], message: str) -> None:
    blueprint = library.find(bp_id)
    before = {a.id: a.as_str() for a in blueprint}
    with pytest.raises(error, match=message):
        blueprint.set_attribute(attribute, value)
    assert {a.id: a.as_str() for a in blueprint} == before, "a rejected value leaves the blueprint unchanged"
