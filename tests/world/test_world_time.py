"""Synchronous mode, the fixed step, frames, snapshots and on_tick callbacks; settings errors."""
from __future__ import annotations

import itertools
from collections.abc import Callable

import carla
import pytest

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.world.simulation import DEFAULT_DELTA_SECONDS


def test_settings_round_trip(straight_world: carla.World) -> None:
    settings = straight_world.get_settings()
    assert isinstance(settings, carla.WorldSettings)
    assert settings.synchronous_mode is True and settings.fixed_delta_seconds == pytest.approx(0.05)
    settings.fixed_delta_seconds = 0.1
    frame = straight_world.apply_settings(settings)
    assert frame == straight_world.get_snapshot().frame
    assert straight_world.get_settings().fixed_delta_seconds == pytest.approx(0.1)
    fetched = straight_world.get_settings()
    fetched.fixed_delta_seconds = 0.5  # get_settings hands out a copy
    assert straight_world.get_settings().fixed_delta_seconds == pytest.approx(0.1)


def test_apply_settings_keeps_its_own_copy(straight_world: carla.World) -> None:
    settings = straight_world.get_settings()
    settings.fixed_delta_seconds = 0.1
    straight_world.apply_settings(settings)
    settings.fixed_delta_seconds = 5.0  # never applied, and beyond the (0, 1] s the world accepts
    settings.synchronous_mode = False
    before = straight_world.get_snapshot().timestamp.elapsed_seconds
    straight_world.tick()
    assert straight_world.get_snapshot().timestamp.elapsed_seconds - before == pytest.approx(0.1)
    assert straight_world.get_settings().synchronous_mode is True


@pytest.mark.parametrize("delta", [0.01, 0.05, 0.1])
def test_fixed_delta_sets_elapsed_time_and_frames(open_bundled_world: Callable, delta: float) -> None:
    world = open_bundled_world("StraightRoad", delta=delta)
    start = world.get_snapshot()
    frames = [world.tick() for _ in range(40)]
    assert frames == list(range(start.frame + 1, start.frame + 41))
    snapshot = world.get_snapshot()
    assert snapshot.frame == frames[-1]
    assert snapshot.timestamp.delta_seconds == pytest.approx(delta)
    assert snapshot.timestamp.elapsed_seconds - start.timestamp.elapsed_seconds == pytest.approx(40 * delta)


def test_without_fixed_delta_the_step_is_the_default(straight_world: carla.World) -> None:
    settings = straight_world.get_settings()
    settings.fixed_delta_seconds = None
    straight_world.apply_settings(settings)
    before = straight_world.get_snapshot().timestamp.elapsed_seconds
    straight_world.tick()
    assert straight_world.get_snapshot().timestamp.elapsed_seconds - before == pytest.approx(DEFAULT_DELTA_SECONDS)


def test_fixed_delta_of_zero_or_less_means_variable_step_as_in_carla(straight_world: carla.World) -> None:
    """carla.WorldSettings itself turns 0, negative or NaN into None (CARLA's variable step), so the
    world never sees a non-positive step; it runs at the default step."""
    for bad in (0.0, -0.05, float("nan")):
        settings = straight_world.get_settings()
        settings.fixed_delta_seconds = bad
        assert settings.fixed_delta_seconds is None
        straight_world.apply_settings(settings)
        assert straight_world.get_settings().fixed_delta_seconds is None
        before = straight_world.get_snapshot().timestamp.elapsed_seconds
        straight_world.tick()
        assert straight_world.get_snapshot().timestamp.elapsed_seconds - before == pytest.approx(DEFAULT_DELTA_SECONDS)


@pytest.mark.parametrize("delta", [1.5, 10.0])
def test_fixed_delta_above_one_second_is_an_input_error(straight_world: carla.World, delta: float) -> None:
    settings = straight_world.get_settings()
    settings.fixed_delta_seconds = delta
    with pytest.raises(InputError, match="fixed_delta_seconds"):
        straight_world.apply_settings(settings)
    assert straight_world.get_settings().fixed_delta_seconds == pytest.approx(0.05), "the world keeps its settings"


def test_snapshot_holds_every_actor_at_its_frame(straight_world: carla.World, spawn_vehicle: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75)
    vehicle.set_target_velocity(carla.Vector3D(10.0, 0.0, 0.0))
    straight_world.tick()
    snapshot = straight_world.get_snapshot()
    assert isinstance(snapshot, carla.WorldSnapshot)
    assert snapshot.id == straight_world.id
    assert {s.id for s in snapshot} == {a.id for a in straight_world.get_actors()}
    assert len(snapshot) == len(straight_world.get_actors())
    frozen = snapshot.find(vehicle.id)
    assert isinstance(frozen, carla.ActorSnapshot)
    assert frozen.get_transform().location.x == pytest.approx(50.5)
    assert frozen.get_velocity().x == pytest.approx(10.0)
    straight_world.tick()
    assert snapshot.find(vehicle.id).get_transform().location.x == pytest.approx(50.5), "a snapshot never changes"
    assert straight_world.get_snapshot().find(vehicle.id).get_transform().location.x > 50.5
    assert snapshot.find(123456) is None and not snapshot.has_actor(123456)


def test_on_tick_receives_each_snapshot_until_removed(straight_world: carla.World) -> None:
    seen: list[carla.WorldSnapshot] = []
    callback_id = straight_world.on_tick(seen.append)
    frames = [straight_world.tick() for _ in range(3)]
    assert [s.frame for s in seen] == frames
    assert all(isinstance(s, carla.WorldSnapshot) for s in seen)
    assert seen[-1] == straight_world.get_snapshot()
    straight_world.remove_on_tick(callback_id)
    straight_world.tick()
    assert len(seen) == 3
    snapshot = straight_world.wait_for_tick()
    assert snapshot.frame == frames[-1] + 2 and len(seen) == 3


def test_sensor_data_carries_the_frame_of_its_tick(straight_world: carla.World, spawn_vehicle: Callable,
                                                   attach_sensor: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75)
    _, imu = attach_sensor(straight_world, vehicle, "sensor.other.imu")
    _, slow = attach_sensor(straight_world, vehicle, "sensor.other.gnss", sensor_tick="0.2")
    frames = [straight_world.tick() for _ in range(20)]
    assert [m.frame for m in imu] == frames, "delivered inside the tick that measured it"
    assert [m.timestamp for m in imu] == pytest.approx(
        [straight_world.get_snapshot().timestamp.elapsed_seconds - 0.05 * (19 - i) for i in range(20)])
    assert 4 <= len(slow) <= 6, "sensor_tick 0.2 s at a 0.05 s step: one in four ticks"
    gaps = [b.timestamp - a.timestamp for a, b in itertools.pairwise(slow)]
    assert all(g == pytest.approx(0.2) for g in gaps)


def test_a_failing_on_tick_callback_does_not_stop_the_tick(straight_world: carla.World) -> None:
    def broken(snapshot: carla.WorldSnapshot) -> None:
        raise KeyError("user bug in on_tick")

    seen: list[int] = []
    straight_world.on_tick(broken)
    straight_world.on_tick(lambda snapshot: seen.append(snapshot.frame))
    frames = [straight_world.tick() for _ in range(3)]
    assert seen == frames
