"""carla.command batches through Client.apply_batch / apply_batch_sync, as CARLA users write them."""
from __future__ import annotations

import carla
import pytest

import recon_carla_bridge
from recon_carla_bridge.paths import BUNDLED_MAPS_DIR

DT = 0.05


@pytest.fixture
def client() -> recon_carla_bridge.Client:
    """A client on the Loop map in synchronous mode."""
    client = recon_carla_bridge.Client("localhost", 2000, map_dirs=[BUNDLED_MAPS_DIR])
    world = client.load_world("Loop")
    settings = world.get_settings()
    settings.synchronous_mode, settings.fixed_delta_seconds = True, DT
    world.apply_settings(settings)
    return client


def test_spawn_then_autopilot_with_future_actor(client: recon_carla_bridge.Client) -> None:
    from carla import command

    world = client.get_world()
    blueprint = world.get_blueprint_library().find("vehicle.tesla.model3")
    spawn_points = world.get_map().get_spawn_points()
    batch = [command.SpawnActor(blueprint, transform).then(command.SetAutopilot(command.FutureActor, True))
             for transform in spawn_points[:12:3]]
    batch.append(command.SpawnActor(blueprint, spawn_points[0]))  # the spot is taken by the first one
    responses = client.apply_batch_sync(batch, True)
    assert [r.error for r in responses[:4]] == [""] * 4
    assert "collision" in responses[4].error and responses[4].has_error()
    ids = [r.actor_id for r in responses[:4]]
    assert len(set(ids)) == 4
    vehicles = [world.get_actor(i) for i in ids]
    assert all(isinstance(v, carla.Vehicle) and v.type_id == "vehicle.tesla.model3" for v in vehicles)
    assert world.get_snapshot().frame == 1, "do_tick=True ticked once"
    start = {v.id: v.get_location() for v in vehicles}
    for _ in range(100):
        world.tick()
    assert all(v.get_location().distance(start[v.id]) > 10.0 for v in vehicles), "the TM drives them"


def test_destroy_and_control_commands_report_bad_ids(client: recon_carla_bridge.Client) -> None:
    world = client.get_world()
    blueprint = world.get_blueprint_library().find("vehicle.audi.a2")
    first, second = (world.spawn_actor(blueprint, t) for t in world.get_map().get_spawn_points()[:20:10])
    responses = client.apply_batch_sync([
        carla.command.ApplyVehicleControl(first, carla.VehicleControl(throttle=1.0)),
        carla.command.ApplyVehicleControl(987654, carla.VehicleControl(throttle=1.0)),
        carla.command.DestroyActor(second),
        carla.command.DestroyActor(second.id),
        carla.command.DestroyActor(987654),
    ])
    assert [r.actor_id for r in responses] == [first.id, 987654, second.id, second.id, 987654]
    assert [bool(r.error) for r in responses] == [False, True, False, True, True]
    assert "987654" in responses[1].error and "987654" in responses[4].error
    assert first.get_control().throttle == 1.0
    assert not second.is_alive and first.is_alive


def test_apply_batch_runs_every_command_and_reports_nothing(client: recon_carla_bridge.Client) -> None:
    world = client.get_world()
    blueprint = world.get_blueprint_library().find("vehicle.audi.a2")
    vehicle = world.spawn_actor(blueprint, world.get_map().get_spawn_points()[0])
    target = world.get_map().get_spawn_points()[5]
    assert client.apply_batch([
        carla.command.DestroyActor(987654),  # a failure does not stop the batch
        carla.command.ApplyTransform(vehicle, target),
        carla.command.ApplyTargetVelocity(vehicle, carla.Vector3D(0.0, 0.0, 0.0)),
    ]) is None
    assert vehicle.get_location().distance(target.location) < 0.5


def test_sensor_spawned_in_a_batch_is_attached(client: recon_carla_bridge.Client) -> None:
    world = client.get_world()
    library = world.get_blueprint_library()
    vehicle = world.spawn_actor(library.find("vehicle.audi.a2"), world.get_map().get_spawn_points()[0])
    relative = carla.Transform(carla.Location(x=1.0, z=2.0))
    (response,) = client.apply_batch_sync([carla.command.SpawnActor(library.find("sensor.other.gnss"), relative, vehicle)])
    sensor = world.get_actor(response.actor_id)
    assert isinstance(sensor, carla.Sensor) and sensor.parent == vehicle
    assert sensor.get_location().distance(vehicle.get_transform().transform(carla.Location(x=1.0, z=2.0))) < 1e-4
