"""Fixtures for the `agents` tests: CARLA towns read from the shared data, and a small OpenDRIVE road."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import carla
import pytest


@pytest.fixture(scope="session")
def town01_trip() -> tuple[carla.Location, carla.Location]:
    """(origin, destination) of a Town01 trip of about 330 m: a left turn, a right turn, straight crossings.

    The origin is one of the world's spawn points (a lane point on road 4, heading -x).
    """
    return carla.Location(x=261.42, y=129.49, z=0.0), carla.Location(x=59.38, y=-2.04, z=0.0)


def load_town(carla_maps_dir: Path, town: str) -> carla.Map:
    """A carla.Map built client-side from the shared OpenDRIVE file of `town`."""
    return carla.Map(town, (carla_maps_dir / f"{town}.xodr").read_text())


@pytest.fixture(scope="session")
def town01(carla_maps_dir: Path) -> carla.Map:
    """CARLA's Town01 road network."""
    return load_town(carla_maps_dir, "Town01")


@pytest.fixture(scope="session")
def town04(carla_maps_dir: Path) -> carla.Map:
    """CARLA's Town04 road network (multi-lane highway with lane changes)."""
    return load_town(carla_maps_dir, "Town04")


def straight_road_xodr(length: float = 200.0, right_lanes: int = 2, left_lanes: int = 0, width: float = 3.5) -> str:
    """OpenDRIVE 1.4 text of one straight road along +x with no links (both ends are dead ends).

    Lanes between two lanes of the same side are separated by broken marks (lane change allowed);
    the outer marks are solid. Right lanes (-1, -2, ...) drive toward +x.
    """

    def lane(lane_id: int, inner_count: int) -> str:
        mark = "broken" if abs(lane_id) < inner_count else "solid"
        change = "both" if mark == "broken" else "none"
        return (
            f'<lane id="{lane_id}" type="driving" level="false"><link/>'
            f'<width sOffset="0" a="{width}" b="0" c="0" d="0"/>'
            f'<roadMark sOffset="0" type="{mark}" weight="standard" color="standard" width="0.15" laneChange="{change}"/>'
            "</lane>"
        )

    rights = "".join(lane(-i, right_lanes) for i in range(1, right_lanes + 1))
    lefts = "".join(lane(i, left_lanes) for i in range(left_lanes, 0, -1))
    left_block = f"<left>{lefts}</left>" if left_lanes else ""
    return (
        '<?xml version="1.0" standalone="yes"?>'
        '<OpenDRIVE><header revMajor="1" revMinor="4" name="straight" version="1.00" north="0" south="0" east="0" west="0">'
        "<geoReference><![CDATA[+proj=tmerc +lat_0=49 +lon_0=8 +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m]]></geoReference>"
        "</header>"
        f'<road name="r" length="{length}" id="1" junction="-1"><link/>'
        f'<planView><geometry s="0" x="0" y="0" hdg="0" length="{length}"><line/></geometry></planView>'
        "<elevationProfile/><lateralProfile/>"
        f'<lanes><laneSection s="0">{left_block}<center><lane id="0" type="none" level="false">'
        '<roadMark sOffset="0" type="solid" weight="standard" color="standard" width="0.15"/></lane></center>'
        f"<right>{rights}</right></laneSection></lanes>"
        "</road></OpenDRIVE>"
    )


@pytest.fixture(scope="session")
def straight_road() -> carla.Map:
    """A 200 m one-way road with two lanes toward +x, dead-ended at both ends."""
    return carla.Map("straight", straight_road_xodr())


@pytest.fixture
def town01_world(carla_maps_dir: Path) -> Iterator[carla.World]:
    """A fresh server-less Town01 world in synchronous mode at 20 Hz (recon_carla_bridge.Client)."""
    import recon_carla_bridge

    client = recon_carla_bridge.Client(map_dirs=[carla_maps_dir])
    world = client.load_world("Town01")
    settings = world.get_settings()
    settings.synchronous_mode = True
    settings.fixed_delta_seconds = 0.05
    world.apply_settings(settings)
    # The drive tests measure cruising and lane keeping: hold Town01's traffic lights at green.
    for light in world.get_actors().filter("*traffic_light*"):
        light.set_state(carla.TrafficLightState.Green)
        light.freeze(True)
    yield world
    for actor in world.get_actors().filter("*sensor*"):
        actor.stop()
    for actor in world.get_actors():
        if actor.type_id.startswith(("vehicle.", "sensor.", "walker.")):
            actor.destroy()
