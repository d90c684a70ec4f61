"""Traffic-light trigger volumes where CARLA puts them: on the incoming lanes before the stop line.

CARLA's BasicAgent reacts only to a light whose trigger-volume centre projects onto the ego's own road.
The towns' signals sit on the junctions' connecting roads; before the volumes were moved out of the
junctions onto the incoming lanes, BasicAgent drove through the red lights named below.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import carla
import pytest

from agents.navigation.basic_agent import BasicAgent
from agents.tools.misc import get_trafficlight_trigger_location

DT = 0.05
RUN_UP_M = 35  # the ego starts up to this far before the junction, never inside another junction

# (town, OpenDRIVE id of the light, (road, lane) of the controlled lane driven through), each run red before.
RED_LIGHTS_ONCE_RUN = [
    ("Town02", "473", (317, 1)),
    ("Town04", "1647", (1400, 3)),
    ("Town04", "1649", (1421, -1)),
    ("Town04", "1622", (666, 1)),
    ("Town04", "1642", (1209, -1)),
    ("Town04", "1624", (732, -1)),
    ("Town04", "1640", (1225, 1)),
]


def _all_red(world: carla.World) -> None:
    for light in world.get_actors().filter("traffic.traffic_light"):
        light.set_state(carla.TrafficLightState.Red)
        light.freeze(True)


def _junction_entry(waypoint: carla.Waypoint) -> carla.Waypoint:
    """The last waypoint before the junction that `waypoint` (a lane of a connecting road) belongs to."""
    while waypoint.is_junction:
        waypoint = waypoint.previous(0.5)[0]
    return waypoint


def _run_up(entry: carla.Waypoint) -> carla.Waypoint:
    start = entry
    for _ in range(RUN_UP_M):
        behind = start.previous(1.0)
        if not behind or behind[0].is_junction:
            break
        start = behind[0]
    return start


@pytest.mark.parametrize(("town", "opendrive_id", "lane"), RED_LIGHTS_ONCE_RUN,
                         ids=[f"{t}-light{i}" for t, i, _ in RED_LIGHTS_ONCE_RUN])
def test_basic_agent_stops_at_the_red_light(open_town_world: Callable, town: str, opendrive_id: str,
                                            lane: tuple[int, int]) -> None:
    world = open_town_world(town)
    wmap = world.get_map()
    light = world.get_traffic_light_from_opendrive_id(opendrive_id)
    controlled = next(w for w in light.get_affected_lane_waypoints() if (w.road_id, w.lane_id) == lane)
    entry = _junction_entry(controlled)
    assert wmap.get_waypoint(get_trafficlight_trigger_location(light)).road_id == entry.road_id, \
        "the trigger volume's centre is on the road that leads to the light"
    start = _run_up(entry).transform
    assert start.location.distance(entry.transform.location) > 15.0
    start.location.z += 0.3
    _all_red(world)
    ego = world.spawn_actor(world.get_blueprint_library().find("vehicle.lincoln.mkz_2020"), start)
    world.tick()
    agent = BasicAgent(ego, 30)
    agent.set_destination(controlled.next(25.0)[0].transform.location, start_location=start.location)
    for _ in range(int(15.0 / DT)):
        ego.apply_control(agent.run_step())
        world.tick()
        assert not wmap.get_waypoint(ego.get_location()).is_junction, f"ran the red light {opendrive_id}"
    forward = entry.transform.get_forward_vector()
    gap = (entry.transform.location - ego.get_location()).dot(forward) - ego.bounding_box.extent.x
    assert ego.get_velocity().length() < 0.1, "waiting at the light"
    # Short approach roads leave BasicAgent little room (it only looks at lights once on their road, as in
    # CARLA): the nose may stop up to a couple of metres past the junction's edge, the car never in it.
    assert -2.5 < gap < 12.0, "stopped at the junction's edge"


@pytest.mark.parametrize("town", ["Town02", "Town04"])
def test_stop_waypoints_lie_under_the_trigger_volume_before_the_junction(open_town_world: Callable, town: str) -> None:
    world = open_town_world(town)
    lights = world.get_actors().filter("traffic.traffic_light")
    assert len(lights) >= 20
    for light in lights:
        volume, pole = light.trigger_volume, light.get_transform()
        centre = pole.transform(carla.Location(volume.location))
        yaw = math.radians(pole.rotation.yaw + volume.rotation.yaw)
        stops = light.get_stop_waypoints()
        assert stops, light.get_opendrive_id()
        for stop in stops:
            offset = stop.transform.location - centre
            along = offset.x * math.cos(yaw) + offset.y * math.sin(yaw)
            across = -offset.x * math.sin(yaw) + offset.y * math.cos(yaw)
            assert abs(along) <= volume.extent.x + 0.1 and abs(across) <= volume.extent.y + 0.1, light.get_opendrive_id()
            assert not stop.is_junction, f"light {light.get_opendrive_id()}: stop waypoint inside a junction"
            heading = math.radians(stop.transform.rotation.yaw)
            assert math.cos(heading - yaw) > 0.9, "on a lane driving towards the light"
