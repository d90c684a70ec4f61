"""`carla.command` batch commands that work with this world's Python actors and blueprints.

CARLA's native command classes only accept native blueprints and actors (see DESIGN.md), so
`install()` puts these classes in `carla.command` under the same names and fields; `execute_batch`
runs them (and native commands built from integer ids) in order, like `Client.apply_batch_sync`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import carla

if TYPE_CHECKING:  # pragma: no cover
    from recon_carla_bridge.world.world import World

FutureActor = 0  # placeholder id in `then()` chains: the actor spawned by the parent command


def _actor_id(actor: Any) -> int:
    if isinstance(actor, int):
        return actor
    actor_id = getattr(actor, "id", None)
    if isinstance(actor_id, int):
        return actor_id
    raise TypeError(f"expected an actor or an actor id, got {type(actor).__name__}")


class _Command:
    """Base of commands addressed to one actor."""

    def __init__(self, actor: Any):
        self.actor_id = _actor_id(actor)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


class SpawnActor:
    """Spawn `blueprint` at `transform` (optionally attached to `parent`), then run `then()` commands."""

    def __init__(self, blueprint: Any = None, transform: carla.Transform | None = None, parent: Any = None,
                 attachment_type: Any = None, socket_name: str = ""):
        self.blueprint = blueprint
        self.transform = transform if transform is not None else carla.Transform()
        self.parent_id = 0 if parent is None else _actor_id(parent)
        self.do_after: list[Any] = []

    def then(self, command: Any) -> "SpawnActor":
        """Run `command` after the spawn; FutureActor in it stands for the new actor."""
        self.do_after.append(command)
        return self

    def __repr__(self) -> str:
        return f"SpawnActor({getattr(self.blueprint, 'id', self.blueprint)}, {self.transform})"


class DestroyActor(_Command):
    """Destroy an actor."""


class ApplyVehicleControl(_Command):
    """Apply a VehicleControl."""

    def __init__(self, actor: Any, control: carla.VehicleControl):
        super().__init__(actor)
        self.control = control


class ApplyVehicleAckermannControl(_Command):
    """Apply a VehicleAckermannControl."""

    def __init__(self, actor: Any, control: carla.VehicleAckermannControl):
        super().__init__(actor)
        self.control = control


class ApplyWalkerControl(_Command):
    """Apply a WalkerControl."""

    def __init__(self, actor: Any, control: carla.WalkerControl):
        super().__init__(actor)
        self.control = control


class ApplyVehiclePhysicsControl(_Command):
    """Apply physics control (accepted; kinematic limits come from the blueprint)."""

    def __init__(self, actor: Any, physics_control: Any):
        super().__init__(actor)
        self.physics_control = physics_control


class ApplyTransform(_Command):
    """Teleport an actor."""

    def __init__(self, actor: Any, transform: carla.Transform):
        super().__init__(actor)
        self.transform = transform


class ApplyWalkerState(_Command):
    """Teleport a walker and set its speed."""

    def __init__(self, actor: Any, transform: carla.Transform, speed: float):
        super().__init__(actor)
        self.transform, self.speed = transform, speed


class ApplyTargetVelocity(_Command):
    """Set an actor's velocity."""

    def __init__(self, actor: Any, velocity: carla.Vector3D):
        super().__init__(actor)
        self.velocity = velocity


class ApplyTargetAngularVelocity(_Command):
    """Set an actor's angular velocity."""

    def __init__(self, actor: Any, angular_velocity: carla.Vector3D):
        super().__init__(actor)
        self.angular_velocity = angular_velocity


class ApplyImpulse(_Command):
    """Add an impulse."""

    def __init__(self, actor: Any, impulse: carla.Vector3D):
        super().__init__(actor)
        self.impulse = impulse


class ApplyForce(_Command):
    """Add a force for one tick."""

    def __init__(self, actor: Any, force: carla.Vector3D):
        super().__init__(actor)
        self.force = force


class ApplyAngularImpulse(_Command):
    """Add an angular impulse."""

    def __init__(self, actor: Any, impulse: carla.Vector3D):
        super().__init__(actor)
        self.impulse = impulse


class ApplyTorque(_Command):
    """Add a torque."""

    def __init__(self, actor: Any, torque: carla.Vector3D):
        super().__init__(actor)
        self.torque = torque


class SetSimulatePhysics(_Command):
    """Turn physics on or off."""

    def __init__(self, actor: Any, enabled: bool):
        super().__init__(actor)
        self.enabled = enabled


class SetEnableGravity(_Command):
    """Turn gravity on or off."""

    def __init__(self, actor: Any, enabled: bool):
        super().__init__(actor)
        self.enabled = enabled


class SetAutopilot(_Command):
    """Hand a vehicle to (or take it from) the traffic manager."""

    def __init__(self, actor: Any, enabled: bool, tm_port: int = 8000):
        super().__init__(actor)
        self.enabled, self.tm_port = enabled, tm_port


class SetVehicleLightState(_Command):
    """Set a vehicle's lights."""

    def __init__(self, actor: Any, light_state: carla.VehicleLightState):
        super().__init__(actor)
        self.light_state = light_state


class ShowDebugTelemetry(_Command):
    """Show telemetry (no viewport here)."""

    def __init__(self, actor: Any, enabled: bool):
        super().__init__(actor)
        self.enabled = enabled


class Response:
    """Result of one command: `actor_id`, and `error` ('' when it succeeded)."""

    def __init__(self, actor_id: int = 0, error: str = ""):
        self.actor_id = actor_id
        self.error = error

    def has_error(self) -> bool:
        """Whether the command failed."""
        return bool(self.error)

    def __repr__(self) -> str:
        return f"Response(actor_id={self.actor_id}, error={self.error!r})"


_EXPORTS = {cls.__name__: cls for cls in (
    SpawnActor, DestroyActor, ApplyVehicleControl, ApplyVehicleAckermannControl, ApplyWalkerControl,
    ApplyVehiclePhysicsControl, ApplyTransform, ApplyWalkerState, ApplyTargetVelocity, ApplyTargetAngularVelocity,
    ApplyImpulse, ApplyForce, ApplyAngularImpulse, ApplyTorque, SetSimulatePhysics, SetEnableGravity, SetAutopilot,
    SetVehicleLightState, ShowDebugTelemetry, Response,
)}
_NATIVE = {name: getattr(carla.command, name) for name in list(_EXPORTS) + ["FutureActor"] if hasattr(carla.command, name)}


def install() -> None:
    """Replace `carla.command`'s classes by these (idempotent); `uninstall()` restores them."""
    for name, cls in _EXPORTS.items():
        setattr(carla.command, name, cls)
    carla.command.FutureActor = FutureActor


def uninstall() -> None:
    """Restore CARLA's native command classes."""
    for name, cls in _NATIVE.items():
        setattr(carla.command, name, cls)


def execute_batch(world: "World", commands: list[Any]) -> list[Response]:
    """Run commands in order; a failing command yields a Response with `error` and does not stop the rest."""
    return [_execute(world, command, None) for command in commands]


def _execute(world: "World", command: Any, future_actor: int | None) -> Response:
    name = type(command).__name__
    try:
        if name == "SpawnActor":
            return _spawn(world, command)
        actor_id = getattr(command, "actor_id")
        if actor_id == FutureActor and future_actor is not None:
            actor_id = future_actor
        if name == "DestroyActor":
            if not world.simulation.destroy(actor_id):
                return Response(actor_id, f"DestroyActor: actor {actor_id} not found")
            return Response(actor_id)
        actor = world.get_actor(actor_id)
        if actor is None:
            return Response(actor_id, f"{name}: actor {actor_id} not found")
        _apply(actor, name, command)
        return Response(actor_id)
    except Exception as error:  # each command reports its own failure, as CARLA's batch does
        return Response(getattr(command, "actor_id", 0) or 0, f"{name}: {error}")


def _spawn(world: "World", command: Any) -> Response:
    parent = world.get_actor(command.parent_id) if getattr(command, "parent_id", 0) else None
    actor = world.spawn_actor(command.blueprint, command.transform, attach_to=parent)
    # CARLA runs every chained command and answers with the new id whatever they return: srunner chains
    # SetAutopilot(FutureActor, False) to every spawn, props and walkers (which have no autopilot) included.
    for follow_up in getattr(command, "do_after", []):
        _execute(world, follow_up, actor.id)
    return Response(actor.id)


def _apply(actor: Any, name: str, command: Any) -> None:
    if name in ("ApplyVehicleControl", "ApplyWalkerControl"):
        actor.apply_control(command.control)
    elif name == "ApplyVehicleAckermannControl":
        actor.apply_ackermann_control(command.control)
    elif name == "ApplyVehiclePhysicsControl":
        actor.apply_physics_control(command.physics_control)
    elif name == "ApplyTransform":
        actor.set_transform(command.transform)
    elif name == "ApplyWalkerState":
        actor.set_transform(command.transform)
        actor.apply_control(carla.WalkerControl(actor.get_transform().get_forward_vector(), float(command.speed)))
    elif name == "ApplyTargetVelocity":
        actor.set_target_velocity(command.velocity)
    elif name == "ApplyTargetAngularVelocity":
        actor.set_target_angular_velocity(command.angular_velocity)
    elif name == "ApplyImpulse":
        actor.add_impulse(command.impulse)
    elif name == "ApplyForce":
        actor.add_force(command.force)
    elif name == "ApplyAngularImpulse":
        actor.add_angular_impulse(command.impulse)
    elif name == "ApplyTorque":
        actor.add_torque(command.torque)
    elif name == "SetSimulatePhysics":
        actor.set_simulate_physics(command.enabled)
    elif name == "SetEnableGravity":
        actor.set_enable_gravity(command.enabled)
    elif name == "SetAutopilot":
        actor.set_autopilot(command.enabled, getattr(command, "tm_port", 8000))
    elif name == "SetVehicleLightState":
        actor.set_light_state(command.light_state)
    elif name == "ShowDebugTelemetry":
        actor.show_debug_telemetry(command.enabled)
    else:
        raise TypeError(f"unsupported command {name}")
