"""One guard layer for the native `carla.Map` and `carla.Waypoint` calls: bad arguments get a clear error, never a
native crash or a hang.

carla 0.9.16's libcarla, without a server, takes the interpreter down (SIGSEGV) or runs for minutes on inputs a
Python script can easily produce:
  - `Waypoint.next/previous` with inf or a huge distance on a looped or branching network (the number of branches
    grows exponentially: Town01's `next(2000)` returns 77k waypoints, `next(5000)` runs for minutes);
  - `Waypoint.get_landmarks(_of_type)` with NaN, inf or a huge distance (segfault, or a hang past ~5 km);
  - `Map.generate_waypoints` with a tiny distance (1e-6 m: hangs);
  - `Waypoint.previous_until_lane_start` on a lane without predecessor (segfault), `next_until_lane_end` near a
    lane end (`RuntimeError: distance > 0.0`);
  - `carla.Map(name, xodr)` on malformed OpenDRIVE (see opendrive_validation.py).
`install()` wraps each of these on the carla classes themselves, so every caller is covered — our world, the
`agents` package, ScenarioRunner and user scripts. A refused call raises `NativeCallRefused`, which is both our
InputError and the RuntimeError CARLA raises for a bad distance (code that catches either keeps working). What
libcarla itself raises while walking a network (its RuntimeError/IndexError on an inconsistent road) comes out as
NativeCallRefused too, naming the call and where on the map it was made.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable

import carla

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.world.opendrive_validation import validate_opendrive

MAX_WAYPOINT_DISTANCE_M = 1000.0  # Waypoint.next/previous: Town01's next(1000) gives 371 branches in 0.3 s
MAX_LANDMARK_DISTANCE_M = 1000.0  # get_landmarks: Town01 at 5 km hangs
MIN_GENERATE_DISTANCE_M = 0.05  # generate_waypoints: a 100 m road at 5 cm is 2k waypoints; 1e-6 m hangs
MAX_LANE_WALK_STEPS = 100_000  # next_until_lane_end / previous_until_lane_start: a bound for malformed maps
MAX_ABS_COORDINATE_M = 1e7  # get_waypoint / transform_to_geolocation locations


class NativeCallRefused(InputError, RuntimeError):
    """A native carla call was refused because its argument would crash, hang or poison the map."""


def check_distance(value: Any, what: str, maximum: float, minimum: float = 0.0) -> float:
    """`value` as a float if finite and in (minimum, maximum], else NativeCallRefused naming the call."""
    try:
        distance = float(value)
    except (TypeError, ValueError):
        raise NativeCallRefused(f"{what}: distance must be a number, got {value!r}") from None
    if not math.isfinite(distance) or distance <= minimum or distance > maximum:
        raise NativeCallRefused(f"{what}: distance {value!r} must be finite and in ({minimum:g}, {maximum:g}] m "
                                "(distance > 0.0, bounded so the native walk cannot crash or hang)")
    return distance


def check_location(location: Any, what: str) -> carla.Location:
    """`location` if it is a carla.Location (or Vector3D, which the native call also takes) with finite coordinates
    in range, else NativeCallRefused."""
    if not isinstance(location, (carla.Location, carla.Vector3D)):
        raise NativeCallRefused(f"{what}: expected a carla.Location, got {type(location).__name__}")
    for axis in ("x", "y", "z"):
        value = getattr(location, axis)
        if not math.isfinite(value) or abs(value) > MAX_ABS_COORDINATE_M:
            raise NativeCallRefused(f"{what}: location.{axis} = {value} must be finite and within {MAX_ABS_COORDINATE_M:g} m")
    return location


_NATIVE: dict[tuple[type, str], Callable[..., Any]] = {}


def _native(cls: type, name: str) -> Callable[..., Any]:
    """The original method, captured once (installing twice never wraps a wrapper)."""
    key = (cls, name)
    if key not in _NATIVE:
        _NATIVE[key] = getattr(cls, name)
    return _NATIVE[key]


def _call_native(native: Callable[..., Any], what: str, *args: Any, **kwargs: Any) -> Any:
    """`native(*args)`, with libcarla's own RuntimeError/IndexError turned into NativeCallRefused naming `what` and,
    for a waypoint, where on the map the call was made."""
    try:
        return native(*args, **kwargs)
    except NativeCallRefused:
        raise
    except (RuntimeError, IndexError) as error:
        where = ""
        if args and isinstance(args[0], carla.Waypoint):
            where = f" at road {args[0].road_id} lane {args[0].lane_id} s={args[0].s:.2f}"
        raise NativeCallRefused(f"{what}{where}: libcarla failed on this road network ({type(error).__name__}: "
                                f"{error})") from None


# ---- carla.Waypoint ----------------------------------------------------------------------------------------
def _waypoint_step(name: str) -> Callable[..., Any]:
    native = _native(carla.Waypoint, name)

    @functools.wraps(native)
    def guarded(self: carla.Waypoint, distance: float) -> list[carla.Waypoint]:
        return _call_native(native, f"Waypoint.{name}", self,
                            check_distance(distance, f"Waypoint.{name}", MAX_WAYPOINT_DISTANCE_M))

    guarded.__doc__ = f"Waypoint.{name}(distance) with distance finite and in (0, {MAX_WAYPOINT_DISTANCE_M:g}] m."
    return guarded


def waypoint_stepper(forward: bool, distance: float) -> Callable[[carla.Waypoint], list[carla.Waypoint]]:
    """`Waypoint.next(distance)` (forward) or `previous(distance)` as a function of the waypoint, with the distance
    checked once: for walks of many equal steps. libcarla's own errors come out as from the guarded methods."""
    name = "next" if forward else "previous"
    native, what = _native(carla.Waypoint, name), f"Waypoint.{name}"
    value = check_distance(distance, what, MAX_WAYPOINT_DISTANCE_M)

    def step(waypoint: carla.Waypoint) -> list[carla.Waypoint]:
        return _call_native(native, what, waypoint, value)

    return step


def _landmarks(name: str) -> Callable[..., Any]:
    native = _native(carla.Waypoint, name)

    @functools.wraps(native)
    def guarded(self: carla.Waypoint, distance: float, *args: Any, **kwargs: Any) -> list[Any]:
        return _call_native(native, f"Waypoint.{name}", self,
                            check_distance(distance, f"Waypoint.{name}", MAX_LANDMARK_DISTANCE_M), *args, **kwargs)

    guarded.__doc__ = f"Waypoint.{name}(distance, ...) with distance finite and in (0, {MAX_LANDMARK_DISTANCE_M:g}] m."
    return guarded


def _walk(waypoint: carla.Waypoint, distance: float, forward: bool) -> list[carla.Waypoint]:
    """Waypoints every `distance` m along the waypoint's lane until its end (forward) or start, staying on it.

    On a lane whose end joins its own start (a ring road of one lane) the walk stops where it would wrap."""
    # Lanes with negative ids run along the road's s; positive ids against it.
    s_sign = (1.0 if waypoint.lane_id < 0 else -1.0) * (1.0 if forward else -1.0)
    step_call = _native(carla.Waypoint, "next" if forward else "previous")
    result: list[carla.Waypoint] = []
    current = waypoint
    for _ in range(MAX_LANE_WALK_STEPS):
        options = _call_native(step_call, "Waypoint.next_until_lane_end" if forward else
                               "Waypoint.previous_until_lane_start", current, distance)
        same_lane = [w for w in options if w.road_id == waypoint.road_id and w.lane_id == waypoint.lane_id]
        if not same_lane:
            break
        step = same_lane[0]
        if (step.s - current.s) * s_sign < 1e-6:  # no progress, or wrapped round to the lane's other end
            break
        result.append(step)
        current = step
    return result


def previous_until_lane_start(self: carla.Waypoint, distance: float) -> list[carla.Waypoint]:
    """Waypoints every `distance` m backwards along this lane until its start (never crashes)."""
    return _walk(self, check_distance(distance, "Waypoint.previous_until_lane_start", MAX_WAYPOINT_DISTANCE_M), forward=False)


def next_until_lane_end(self: carla.Waypoint, distance: float) -> list[carla.Waypoint]:
    """Waypoints every `distance` m forwards along this lane until its end (an empty list at the very end)."""
    return _walk(self, check_distance(distance, "Waypoint.next_until_lane_end", MAX_WAYPOINT_DISTANCE_M), forward=True)


# ---- carla.Map ----------------------------------------------------------------------------------------------
def _map_init() -> Callable[..., Any]:
    native = _native(carla.Map, "__init__")

    def guarded(self: carla.Map, name: str, xodr_content: str, *args: Any, **kwargs: Any) -> None:
        """carla.Map(name, xodr): the OpenDRIVE is validated before the native parser reads it."""
        where = getattr(self, "_source", None) or f"OpenDRIVE of map '{name}'"
        validate_opendrive(xodr_content, where)
        try:
            native(self, name, xodr_content, *args, **kwargs)
        except (RuntimeError, IndexError) as error:  # libcarla's own checks (a link to a lane that is not there …)
            raise InputError(f"{where}: libcarla cannot build this road network ({type(error).__name__}: {error}); "
                             "check the roads' and lanes' links") from None

    return guarded


def _generate_waypoints() -> Callable[..., Any]:
    native = _native(carla.Map, "generate_waypoints")

    def guarded(self: carla.Map, distance: float) -> list[carla.Waypoint]:
        """Map.generate_waypoints(distance) with distance finite and >= MIN_GENERATE_DISTANCE_M."""
        value = check_distance(distance, "Map.generate_waypoints", math.inf, minimum=0.0)
        if value < MIN_GENERATE_DISTANCE_M:
            raise NativeCallRefused(f"Map.generate_waypoints: distance {distance!r} is below {MIN_GENERATE_DISTANCE_M:g} m "
                                    "(the native call would not finish)")
        return _call_native(native, "Map.generate_waypoints", self, value)

    return guarded


def _get_waypoint() -> Callable[..., Any]:
    native = _native(carla.Map, "get_waypoint")

    def guarded(self: carla.Map, location: carla.Location, *args: Any, **kwargs: Any) -> carla.Waypoint | None:
        """Map.get_waypoint(location, ...) with a finite location."""
        return _call_native(native, "Map.get_waypoint", self, check_location(location, "Map.get_waypoint"), *args, **kwargs)

    return guarded


def _get_waypoint_xodr() -> Callable[..., Any]:
    native = _native(carla.Map, "get_waypoint_xodr")

    def guarded(self: carla.Map, road_id: int, lane_id: int, s: float) -> carla.Waypoint | None:
        """Map.get_waypoint_xodr(road, lane, s) with a finite s (None off the road, as CARLA)."""
        value = float(s)
        if not math.isfinite(value):
            raise NativeCallRefused(f"Map.get_waypoint_xodr: s = {s!r} must be finite")
        return _call_native(native, "Map.get_waypoint_xodr", self, int(road_id), int(lane_id), value)

    return guarded


def _map_query(name: str) -> Callable[..., Any]:
    native = _native(carla.Map, name)

    @functools.wraps(native)
    def guarded(self: carla.Map, *args: Any, **kwargs: Any) -> Any:
        return _call_native(native, f"Map.{name}", self, *args, **kwargs)

    guarded.__doc__ = f"Map.{name}(...), with libcarla's own errors named as NativeCallRefused."
    return guarded


def _transform_to_geolocation() -> Callable[..., Any]:
    native = _native(carla.Map, "transform_to_geolocation")

    def guarded(self: carla.Map, location: carla.Location) -> carla.GeoLocation:
        """Map.transform_to_geolocation(location) with a finite location."""
        return _call_native(native, "Map.transform_to_geolocation", self,
                            check_location(location, "Map.transform_to_geolocation"))

    return guarded


def install() -> None:
    """Put the guarded versions on carla.Waypoint and carla.Map (idempotent); `uninstall()` restores the native ones."""
    for name in ("next", "previous"):
        setattr(carla.Waypoint, name, _waypoint_step(name))
    for name in ("get_landmarks", "get_landmarks_of_type"):
        setattr(carla.Waypoint, name, _landmarks(name))
    _native(carla.Waypoint, "previous_until_lane_start")
    _native(carla.Waypoint, "next_until_lane_end")
    carla.Waypoint.previous_until_lane_start = previous_until_lane_start
    carla.Waypoint.next_until_lane_end = next_until_lane_end
    carla.Map.__init__ = _map_init()
    carla.Map.generate_waypoints = _generate_waypoints()
    carla.Map.get_waypoint = _get_waypoint()
    carla.Map.get_waypoint_xodr = _get_waypoint_xodr()
    carla.Map.transform_to_geolocation = _transform_to_geolocation()
    for name in ("get_topology", "get_spawn_points", "get_crosswalks"):
        setattr(carla.Map, name, _map_query(name))


def uninstall() -> None:
    """Restore carla's native methods."""
    for (cls, name), method in _NATIVE.items():
        setattr(cls, name, method)
