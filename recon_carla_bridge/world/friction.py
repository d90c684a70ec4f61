"""Friction trigger volumes (`static.trigger.friction`), as CARLA's FrictionTrigger actor has them.

CARLA reads the blueprint's `extent_x/y/z` as the box's half size in centimetres (Unreal units; the
docs' friction-trigger page says so, and draws the box with `extent * 1e-2`). While a vehicle overlaps
the box, every wheel's friction is set to the trigger's `friction`; it is restored when the vehicle
leaves. CARLA's vehicles ship with wheel friction 3.5. The kinematic model turns a wheel friction into a
cap on tyre force, friction × load, i.e. on the acceleration the tyres can transmit: friction × g.
"""
from __future__ import annotations

import math

import numpy as np

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.world.blueprint_catalog import DEFAULT_TYRE_FRICTION
from recon_carla_bridge.world.state import ActorKind, ActorState

FRICTION_TRIGGER = "static.trigger.friction"
CENTIMETRES_PER_METRE = 100.0


def trigger_half_extents(type_id: str, attributes: dict[str, str]) -> np.ndarray:
    """(3,) half size in metres of a trigger blueprint whose `extent_*` attributes are in centimetres."""
    extents_cm = np.array([float(attributes[f"extent_{axis}"]) for axis in "xyz"])
    if not (np.all(np.isfinite(extents_cm)) and np.all(extents_cm > 0)):
        raise InputError(f"spawn_actor({type_id}): extents must be positive centimetres, got {extents_cm.tolist()}")
    return extents_cm / CENTIMETRES_PER_METRE


def wheel_friction(vehicles: list[ActorState], actors: list[ActorState]) -> np.ndarray:
    """(N,) wheel friction of each vehicle: the `friction` of a friction trigger its origin is inside
    (the lowest where several overlap), CARLA's default 3.5 elsewhere."""
    friction = np.full(len(vehicles), DEFAULT_TYRE_FRICTION)
    triggers = [a for a in actors if a.kind == ActorKind.TRIGGER and a.type_id == FRICTION_TRIGGER and a.alive]
    if not triggers or not vehicles:
        return friction
    locations = np.array([v.location for v in vehicles], dtype=float)  # (N, 3)
    for trigger in triggers:
        value = float(trigger.attributes.get("friction", DEFAULT_TYRE_FRICTION))
        if not math.isfinite(value):
            continue
        yaw = math.radians(trigger.rotation[1])
        offset = locations - trigger.location
        local = np.stack([math.cos(yaw) * offset[:, 0] + math.sin(yaw) * offset[:, 1],
                          -math.sin(yaw) * offset[:, 0] + math.cos(yaw) * offset[:, 1],
                          offset[:, 2]], axis=1)
        inside = np.all(np.abs(local) <= trigger.half_extents, axis=1)
        friction[inside] = np.minimum(friction[inside], max(0.0, value))
    return friction
