"""The simulated world's state: one record per actor plus the clock, in CARLA's frame.

Units: metres, seconds, degrees for rotations (pitch, yaw, roll as carla.Rotation), m/s for
velocities, deg/s for angular velocities. The CARLA-facing classes (actors.py, world.py) read and
write these records; `kinematics.step_*` and `collisions.detect` advance them.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

import carla
import numpy as np


class ActorKind(enum.Enum):
    """What an actor is; decides which dynamics and which facade class it gets."""

    VEHICLE = "vehicle"
    WALKER = "walker"
    PROP = "prop"
    SENSOR = "sensor"
    SPECTATOR = "spectator"
    TRAFFIC_LIGHT = "traffic_light"
    TRAFFIC_SIGN = "traffic_sign"
    TRIGGER = "trigger"
    CONTROLLER = "controller"  # controller.ai.walker, attached to its walker


@dataclass
class ActorState:
    """Physical and bookkeeping state of one actor."""

    actor_id: int
    kind: ActorKind
    type_id: str  # blueprint id, e.g. 'vehicle.lincoln.mkz_2020'
    attributes: dict[str, str]  # blueprint attributes at spawn time (role_name, color, …)
    location: np.ndarray  # (3,) m, actor origin (ground under the box centre for vehicles)
    rotation: np.ndarray  # (3,) deg, pitch, yaw, roll
    half_extents: np.ndarray  # (3,) m, bounding-box half size (x, y, z)
    box_center: np.ndarray  # (3,) m, bounding-box centre in the actor frame
    mass: float = 1000.0  # kg; inf for fixed objects
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))  # (3,) m/s, world frame
    angular_velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))  # (3,) deg/s
    acceleration: np.ndarray = field(default_factory=lambda: np.zeros(3))  # (3,) m/s², world frame
    speed: float = 0.0  # m/s, signed speed along the heading (vehicles)
    steer_angle: float = 0.0  # rad, front wheel angle (vehicles)
    vehicle_control: carla.VehicleControl = field(default_factory=carla.VehicleControl)
    walker_control: carla.WalkerControl = field(default_factory=carla.WalkerControl)
    simulate_physics: bool = True
    enable_gravity: bool = True
    target_velocity: np.ndarray | None = None  # (3,) m/s, applied at the next tick then cleared
    target_angular_velocity: np.ndarray | None = None  # (3,) deg/s, applied at the next tick
    constant_velocity: np.ndarray | None = None  # (3,) m/s in the actor frame, held until disabled
    autopilot: bool = False
    light_state: carla.VehicleLightState = carla.VehicleLightState.NONE
    parent_id: int | None = None  # attached actors follow their parent
    relative_location: np.ndarray = field(default_factory=lambda: np.zeros(3))  # (3,) m, to the parent
    relative_rotation: np.ndarray = field(default_factory=lambda: np.zeros(3))  # (3,) deg, to the parent
    alive: bool = True
    road_snap_location: np.ndarray | None = None  # (3,) where the road height was last looked up
    airborne: bool = False  # a vehicle given a pose above the road: it falls onto the surface under gravity
    fall_speed: float = 0.0  # m/s, downward, while airborne

    @property
    def yaw_rad(self) -> float:
        """Heading in radians."""
        return float(np.radians(self.rotation[1]))


@dataclass
class ClockState:
    """Simulation time."""

    frame: int = 0  # ticks since the world was created
    elapsed_seconds: float = 0.0  # s of simulated time
    delta_seconds: float = 0.05  # s, duration of the last tick
