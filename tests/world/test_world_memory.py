"""Memory stays flat over a long run: destroyed actors and failing callbacks are kept in bounded structures."""
from __future__ import annotations

import gc
import os

import carla
import pytest

EGO = "vehicle.lincoln.mkz_2020"

ACTORS = 10_000
WARM_UP = 3_000  # actors: more than the destroyed actors kept (1,024)


def _rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; the test skips elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as stream:
            return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        pytest.skip("no /proc/self/statm to read the resident memory from")


def _spawn_and_destroy(world: carla.World, count: int, spot: carla.Transform) -> int:
    """Spawn a vehicle with a failing sensor, tick, destroy both; `count` times. Returns the last vehicle id."""
    library = world.get_blueprint_library()
    vehicle_bp, imu_bp = library.find(EGO), library.find("sensor.other.imu")
    last = 0
    for _ in range(count):
        vehicle = world.spawn_actor(vehicle_bp, spot)
        imu = world.spawn_actor(imu_bp, carla.Transform(), attach_to=vehicle)
        imu.listen(lambda data: 1 / 0)  # a user bug: reported, kept bounded
        world.tick()
        imu.destroy()
        vehicle.destroy()
        last = vehicle.id
    return last


def test_spawning_and_destroying_10000_actors_keeps_memory_flat(straight_world: carla.World) -> None:
    """5,000 vehicles and 5,000 sensors with a failing callback; memory after the first 3,000 actors (the bounded
    structures are full by then) and after all 10,000 must not differ by more than a few hundred KiB."""
    spot = carla.Transform(carla.Location(50.0, 1.75, 0.3))
    with pytest.warns(RuntimeWarning, match="ZeroDivisionError") as caught:
        _spawn_and_destroy(straight_world, WARM_UP // 2, spot)
        gc.collect()
        before = _rss_bytes()
        last_id = _spawn_and_destroy(straight_world, (ACTORS - WARM_UP) // 2, spot)
        gc.collect()
        after = _rss_bytes()
    grown = after - before
    # Before the bound: ≈ 2.9 KiB per destroyed actor plus a traceback per callback error (> 20 MiB here).
    assert grown < 2 * 2**20, f"RSS grew {grown / 2**20:.1f} MiB over {ACTORS - WARM_UP} more actors"
    assert len(caught) == 1, "the same bug in every respawned sensor is warned once, not 5,000 times"
    sim = straight_world.simulation
    assert len(sim.sensor_errors) == sim.sensor_errors.maxlen and "ZeroDivisionError" in sim.sensor_errors[-1]
    assert straight_world.get_actor(last_id) is None and len(straight_world.get_actors().filter("vehicle.*")) == 0


def test_an_actor_forgotten_long_ago_still_raises_carlas_clear_error(straight_world: carla.World) -> None:
    spot = carla.Transform(carla.Location(50.0, 1.75, 0.3))
    library = straight_world.get_blueprint_library()
    early = straight_world.spawn_actor(library.find(EGO), spot)
    early.destroy()
    for _ in range(straight_world.simulation._dead.capacity + 10):  # push it out of the recently destroyed
        straight_world.spawn_actor(library.find(EGO), spot).destroy()
    for call in (lambda: early.get_transform(), lambda: early.set_target_velocity(carla.Vector3D(1, 0, 0)),
                 lambda: early.add_impulse(carla.Vector3D(1, 0, 0))):
        with pytest.raises(RuntimeError, match="trying to operate on a destroyed actor"):
            call()
    assert early.is_alive is False and early.destroy() is False
