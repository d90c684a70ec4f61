"""Property-based fuzzing of world operation sequences: spawns, destroys, teleports, velocities, forces, impulses,
controls and ticks with hostile numbers, each sequence in a forked child. A call may refuse its input (InputError)
or act on a destroyed actor (CARLA's RuntimeError), but no tick may raise, and after every tick every actor's pose
and motion must be finite: zero signals, zero hangs, zero non-finite states."""
from __future__ import annotations

import math

import carla
from hypothesis import given
from hypothesis import strategies as st

import recon_carla_bridge
from recon_carla_bridge.errors import InputError
from recon_carla_bridge.paths import BUNDLED_MAPS_DIR

from .isolation import describe, fuzz_settings, run_isolated

NUMBERS = st.one_of(st.floats(-30.0, 30.0), st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300, 1e12, 0.0]),
                    st.floats(allow_nan=True, allow_infinity=True))
VECTORS = st.tuples(NUMBERS, NUMBERS, NUMBERS)
OPERATIONS = st.one_of(
    st.tuples(st.just("spawn"), st.sampled_from(["vehicle.lincoln.mkz_2020", "walker.pedestrian.0001",
                                                 "sensor.other.imu", "sensor.other.collision", "static.prop.streetbarrier"]),
              st.tuples(st.floats(0.0, 120.0), st.sampled_from([1.75, 5.25, -1.75]), st.just(0.3)), NUMBERS),
    st.tuples(st.sampled_from(["destroy", "tick", "tick", "tick", "autopilot", "physics_off", "physics_on",
                               "disable_constant_velocity"]), st.integers(0, 9)),
    st.tuples(st.sampled_from(["set_transform", "set_target_velocity", "set_target_angular_velocity",
                               "enable_constant_velocity", "add_impulse", "add_force", "add_torque", "set_location"]),
              st.integers(0, 9), VECTORS),
    st.tuples(st.sampled_from(["apply_control", "apply_ackermann", "walker_control"]), st.integers(0, 9), VECTORS),
)


def _vector(values: tuple) -> carla.Vector3D:
    return carla.Vector3D(*values)


def _apply(world: carla.World, actors: list, operation: tuple) -> None:
    name = operation[0]
    library = world.get_blueprint_library()
    if name == "spawn":
        _, blueprint, (x, y, z), yaw = operation
        transform = carla.Transform(carla.Location(x, y, z), carla.Rotation(yaw=yaw))
        parent = next((a for a in actors if a.is_alive and a.type_id.startswith("vehicle")), None)
        attach = parent if blueprint.startswith("sensor") else None
        actor = world.try_spawn_actor(library.find(blueprint), transform, attach_to=attach)
        if actor is not None:
            actors.append(actor)
            if blueprint.startswith("sensor"):
                actor.listen(lambda data: None)
        return
    if name == "tick":
        world.tick()
        return
    if not actors:
        return
    actor = actors[operation[1] % len(actors)]
    if name == "destroy":
        actor.destroy()
    elif name == "autopilot" and actor.type_id.startswith("vehicle"):
        actor.set_autopilot(True)
    elif name in ("physics_off", "physics_on"):
        actor.set_simulate_physics(name == "physics_on")
    elif name == "disable_constant_velocity":
        actor.disable_constant_velocity()
    elif name == "set_transform":
        actor.set_transform(carla.Transform(carla.Location(*operation[2]), carla.Rotation(yaw=operation[2][0])))
    elif name == "set_location":
        actor.set_location(carla.Location(*operation[2]))
    elif name in ("set_target_velocity", "set_target_angular_velocity", "enable_constant_velocity", "add_impulse",
                  "add_force", "add_torque"):
        getattr(actor, name)(_vector(operation[2]))
    elif name == "apply_control" and actor.type_id.startswith("vehicle"):
        throttle, steer, brake = operation[2]
        actor.apply_control(carla.VehicleControl(throttle=throttle, steer=steer, brake=brake))
    elif name == "apply_ackermann" and actor.type_id.startswith("vehicle"):
        steer, speed, acceleration = operation[2]
        actor.apply_control(carla.VehicleAckermannControl(steer=steer, speed=speed, acceleration=acceleration))
    elif name == "walker_control" and actor.type_id.startswith("walker"):
        x, y, speed = operation[2]
        actor.apply_control(carla.WalkerControl(carla.Vector3D(x, y, 0.0), speed))


def _check_finite(world: carla.World) -> None:
    for actor in world.get_actors():
        transform, velocity = actor.get_transform(), actor.get_velocity()
        values = (transform.location.x, transform.location.y, transform.location.z, transform.rotation.yaw,
                  velocity.x, velocity.y, velocity.z)
        if not all(math.isfinite(v) for v in values):
            raise AssertionError(f"nonfinite state of {actor}: {transform} {velocity}")


_WORLDS: dict[str, carla.World] = {}


def _fresh_world(town: str) -> carla.World:
    """A synchronous world, opened once in the parent: each forked child gets its own copy of it, untouched."""
    if town not in _WORLDS:
        world = recon_carla_bridge.Client(map_dirs=[BUNDLED_MAPS_DIR]).load_world(town)
        settings = world.get_settings()
        settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.05
        world.apply_settings(settings)
        _WORLDS[town] = world
    return _WORLDS[town]


def _run_sequence(town: str, operations: list) -> str:
    world = _fresh_world(town)
    actors: list = []
    library = world.get_blueprint_library()
    for blueprint, x in (("vehicle.lincoln.mkz_2020", 40.0), ("walker.pedestrian.0001", 60.0)):  # something to act on
        actors.append(world.spawn_actor(library.find(blueprint), carla.Transform(carla.Location(x, 1.75, 0.5))))
    refused = 0
    for operation in operations:
        try:
            _apply(world, actors, operation)
        except InputError:
            refused += 1  # a clear refusal of a hostile number: fine
        except RuntimeError as error:
            if operation[0] == "tick" or "destroyed actor" not in str(error):
                raise
        if operation[0] == "tick":
            _check_finite(world)
    world.tick()  # the world must still step after whatever happened
    _check_finite(world)
    return f"{len(operations)} operations, {refused} refused"


@fuzz_settings(30)
@given(st.sampled_from(["StraightRoad", "Loop"]), st.lists(OPERATIONS, min_size=2, max_size=30))
def test_world_operation_sequences_keep_the_world_finite_and_ticking(town: str, operations: list) -> None:
    _fresh_world(town)
    outcome = run_isolated(_run_sequence, town, operations, target="world")
    assert outcome.kind == "ok", describe(outcome, (town, operations))
