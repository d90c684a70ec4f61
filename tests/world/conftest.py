"""Fixtures for the world tests: synchronous server-less worlds on the bundled maps (no shared data
needed) and on CARLA's towns (through `carla_maps_dir`, skipped without ../shared/data)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import carla
import pytest

import recon_carla_bridge
from recon_carla_bridge.paths import BUNDLED_MAPS_DIR

DT = 0.05  # s, the fixed step every world here runs at
EGO = "vehicle.lincoln.mkz_2020"

OpenWorld = Callable[..., carla.World]


def _open(client: recon_carla_bridge.Client, town: str, delta: float) -> carla.World:
    world = client.load_world(town)
    settings = world.get_settings()
    settings.synchronous_mode = True
    settings.fixed_delta_seconds = delta
    world.apply_settings(settings)
    return world


@pytest.fixture
def open_bundled_world() -> OpenWorld:
    """`open_bundled_world('Crossing', delta=DT)`: a fresh synchronous world on a bundled map only
    (the shared towns are not searched, so these tests prove a bare clone works)."""

    def open_world(town: str, delta: float = DT) -> carla.World:
        return _open(recon_carla_bridge.Client("localhost", 2000, map_dirs=[BUNDLED_MAPS_DIR]), town, delta)

    return open_world


@pytest.fixture
def straight_world(open_bundled_world: OpenWorld) -> carla.World:
    """StraightRoad: 400 m along +x, lanes -1/-2 (CARLA y = +1.75/+5.25) drive towards +x."""
    return open_bundled_world("StraightRoad")


@pytest.fixture
def loop_world(open_bundled_world: OpenWorld) -> carla.World:
    """Loop: a closed ~590 m rounded rectangle over a 4 m hill, one lane each way."""
    return open_bundled_world("Loop")


@pytest.fixture
def crossing_world(open_bundled_world: OpenWorld) -> carla.World:
    """Crossing: four 150 m arms meeting at an unsignalized junction at the origin."""
    return open_bundled_world("Crossing")


@pytest.fixture
def open_town_world(carla_maps_dir: Path) -> Iterator[OpenWorld]:
    """`open_town_world('Town01')`: a fresh synchronous world on a CARLA town from the shared data."""
    worlds: list[carla.World] = []

    def open_world(town: str, delta: float = DT) -> carla.World:
        world = _open(recon_carla_bridge.Client("localhost", 2000, map_dirs=[carla_maps_dir]), town, delta)
        worlds.append(world)
        return world

    yield open_world
    for world in worlds:
        for sensor in world.get_actors().filter("sensor.*"):
            sensor.stop()


@pytest.fixture
def spawn_vehicle() -> Callable[..., carla.Vehicle]:
    """`spawn_vehicle(world, x, y, yaw=0, blueprint=EGO)`: a vehicle spawned 0.5 m above (x, y)."""

    def spawn(world: carla.World, x: float, y: float, yaw: float = 0.0, blueprint: str = EGO) -> carla.Vehicle:
        bp = world.get_blueprint_library().find(blueprint)
        return world.spawn_actor(bp, carla.Transform(carla.Location(x, y, 0.5), carla.Rotation(yaw=yaw)))

    return spawn


@pytest.fixture
def attach_sensor() -> Callable[..., tuple[carla.Sensor, list]]:
    """`attach_sensor(world, parent, 'sensor.other.imu', transform=None, **attributes)` -> (sensor, data list)."""

    def attach(world: carla.World, parent: carla.Actor, type_id: str, transform: carla.Transform | None = None,
               **attributes: str) -> tuple[carla.Sensor, list]:
        bp = world.get_blueprint_library().find(type_id)
        for name, value in attributes.items():
            bp.set_attribute(name, value)
        sensor = world.spawn_actor(bp, transform or carla.Transform(), attach_to=parent)
        received: list = []
        sensor.listen(received.append)
        return sensor, received

    return attach
