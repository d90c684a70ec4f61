"""Typed, frozen settings for the planners and agents, built from CARLA's `opt_dict` keys.

CARLA's agents read options from a plain dict and silently ignore keys they do not know, so a typo
(`'tagret_speed'`) changes nothing and goes unnoticed. Here every `opt_dict` is parsed once into a
frozen dataclass; an unknown key raises `UnknownOptionError`, naming the key, the closest valid key
and the accepted keys.

Deliberate differences from CARLA 0.9.16, each a fix of a silent surprise:
- the default PID gains use the planner's `dt` (CARLA keeps 1/20 s in them even when `dt` is set);
- a PID dict without `dt` takes the planner's `dt` (CARLA falls back to the controller's 0.03 s);
- a PID dict with an unknown key raises `UnknownOptionError` (CARLA raises a bare TypeError later).
"""
from __future__ import annotations

import difflib
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

DEFAULT_DT = 1.0 / 20.0
"""Control period assumed by the planners when none is given, in seconds."""


class UnknownOptionError(TypeError):
    """An `opt_dict` (or PID dict) holds a key that the receiving planner or agent does not read."""

    def __init__(self, owner: str, key: str, accepted: Collection[str]) -> None:
        """Build the message: the owner, the bad key, the closest accepted key and all accepted keys."""
        close = difflib.get_close_matches(key, sorted(accepted), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        super().__init__(
            f"{owner} got an unknown option {key!r}{hint}; accepted options: {', '.join(sorted(accepted))}"
        )
        self.owner = owner
        self.key = key


def check_option_keys(owner: str, options: Mapping[str, Any], accepted: Collection[str]) -> None:
    """Raise UnknownOptionError for the first key of `options` that is not in `accepted`."""
    for key in options:
        if key not in accepted:
            raise UnknownOptionError(owner, key, accepted)


@dataclass(frozen=True)
class PIDGains:
    """Gains of one PID loop; CARLA spells them as the dict keys K_P, K_I, K_D and dt."""

    k_p: float = 1.0
    """Proportional gain."""
    k_i: float = 0.0
    """Integral gain."""
    k_d: float = 0.0
    """Derivative gain."""
    dt: float = 0.03
    """Time between two control steps, in seconds."""

    CARLA_KEYS = ("K_P", "K_I", "K_D", "dt")

    def __post_init__(self) -> None:
        """Reject a non-positive or non-finite period."""
        if not (math.isfinite(self.dt) and self.dt > 0.0):
            raise ValueError(f"PID dt must be a positive number of seconds, got {self.dt!r}")

    @classmethod
    def from_carla(cls, args: Mapping[str, float] | PIDGains, *, owner: str, dt: float) -> PIDGains:
        """Parse a CARLA PID dict ({'K_P': .., 'K_I': .., 'K_D': .., 'dt': ..}); missing dt becomes `dt`."""
        if isinstance(args, PIDGains):
            return args
        check_option_keys(owner, args, cls.CARLA_KEYS)
        return cls(
            k_p=float(args.get("K_P", 1.0)),
            k_i=float(args.get("K_I", 0.0)),
            k_d=float(args.get("K_D", 0.0)),
            dt=float(args.get("dt", dt)),
        )

    def to_carla(self) -> dict[str, float]:
        """The gains as CARLA's PID dict."""
        return {"K_P": self.k_p, "K_I": self.k_i, "K_D": self.k_d, "dt": self.dt}


def default_lateral_gains(dt: float = DEFAULT_DT) -> PIDGains:
    """CARLA 0.9.16 LocalPlanner's lateral (steering) gains."""
    return PIDGains(k_p=1.95, k_i=0.05, k_d=0.2, dt=dt)


def default_longitudinal_gains(dt: float = DEFAULT_DT) -> PIDGains:
    """CARLA 0.9.16 LocalPlanner's longitudinal (throttle/brake) gains."""
    return PIDGains(k_p=1.0, k_i=0.05, k_d=0.0, dt=dt)


@dataclass(frozen=True)
class LocalPlannerSettings:
    """Options of LocalPlanner; field names are CARLA's opt_dict keys except the two PID dicts."""

    dt: float = DEFAULT_DT
    """Control period in seconds (opt_dict key 'dt')."""
    target_speed: float = 20.0
    """Desired cruise speed in km/h."""
    sampling_radius: float = 2.0
    """Spacing of the waypoints the planner adds by itself when it roams, in metres."""
    lateral_control: PIDGains | None = None
    """Steering PID (opt_dict key 'lateral_control_dict'); None means CARLA's defaults at `dt`."""
    longitudinal_control: PIDGains | None = None
    """Speed PID (opt_dict key 'longitudinal_control_dict'); None means CARLA's defaults at `dt`."""
    max_throttle: float = 0.75
    """Largest throttle the controller outputs, in [0, 1]."""
    max_brake: float = 0.3
    """Largest brake the controller outputs, in [0, 1]."""
    max_steering: float = 0.8
    """Largest absolute steer the controller outputs, in [0, 1]."""
    offset: float = 0.0
    """Lateral offset from the lane centre in metres (positive: to the right)."""
    base_min_distance: float = 3.0
    """Waypoints closer than base_min_distance + distance_ratio * speed (m/s) are considered passed."""
    distance_ratio: float = 0.5
    """Seconds of travel added to base_min_distance when purging passed waypoints."""
    follow_speed_limits: bool = False
    """Track the vehicle's current speed limit instead of target_speed."""

    OPT_DICT_KEYS = (
        "dt", "target_speed", "sampling_radius", "lateral_control_dict", "longitudinal_control_dict",
        "max_throttle", "max_brake", "max_steering", "offset", "base_min_distance", "distance_ratio",
        "follow_speed_limits",
    )

    def __post_init__(self) -> None:
        """Fill the PID gains from `dt` when none were given, and check ranges."""
        if not (math.isfinite(self.dt) and self.dt > 0.0):
            raise ValueError(f"dt must be a positive number of seconds, got {self.dt!r}")
        if self.sampling_radius <= 0.0:
            raise ValueError(f"sampling_radius must be positive, got {self.sampling_radius!r}")
        for name in ("max_throttle", "max_brake", "max_steering"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
        if self.lateral_control is None:
            object.__setattr__(self, "lateral_control", default_lateral_gains(self.dt))
        if self.longitudinal_control is None:
            object.__setattr__(self, "longitudinal_control", default_longitudinal_gains(self.dt))

    @classmethod
    def from_opt_dict(cls, opt_dict: Mapping[str, Any] | None, *, owner: str = "LocalPlanner") -> LocalPlannerSettings:
        """Parse CARLA's LocalPlanner opt_dict; unknown keys raise UnknownOptionError."""
        options = dict(opt_dict or {})
        check_option_keys(owner, options, cls.OPT_DICT_KEYS)
        dt = float(options.pop("dt", DEFAULT_DT))
        lateral = options.pop("lateral_control_dict", None)
        longitudinal = options.pop("longitudinal_control_dict", None)
        return cls(
            dt=dt,
            lateral_control=None if lateral is None else PIDGains.from_carla(
                lateral, owner=f"{owner} lateral_control_dict", dt=dt),
            longitudinal_control=None if longitudinal is None else PIDGains.from_carla(
                longitudinal, owner=f"{owner} longitudinal_control_dict", dt=dt),
            **{key: _coerce(value) for key, value in options.items()},
        )


def _coerce(value: Any) -> Any:
    """Numbers become floats (CARLA code passes ints such as offset=0); booleans stay booleans."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return float(value)


@dataclass(frozen=True)
class BasicAgentSettings:
    """Options of BasicAgent (and the agents built on it); `planner` holds the LocalPlanner's."""

    ignore_traffic_lights: bool = False
    """Drive through red lights."""
    ignore_stop_signs: bool = False
    """Kept for CARLA parity: BasicAgent has never checked stop signs."""
    ignore_vehicles: bool = False
    """Do not brake for vehicles ahead."""
    use_bbs_detection: bool = False
    """Always detect vehicles with bounding-box polygons, not only in junctions or with an offset."""
    sampling_resolution: float = 2.0
    """Spacing of the global route's waypoints in metres."""
    base_tlight_threshold: float = 5.0
    """Traffic lights are searched within this many metres plus detection_speed_ratio * speed (m/s)."""
    base_vehicle_threshold: float = 5.0
    """Vehicles are searched within this many metres plus detection_speed_ratio * speed (m/s)."""
    detection_speed_ratio: float = 1.0
    """Seconds of travel added to the detection thresholds."""
    max_brake: float = 0.5
    """Brake of an emergency stop, in [0, 1] (the same opt_dict key also caps the planner's brake)."""
    offset: float = 0.0
    """Lateral offset from the lane centre in metres (the same key also feeds the planner)."""
    planner: LocalPlannerSettings = field(default_factory=LocalPlannerSettings)
    """Settings of the agent's LocalPlanner."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Options read by a subclass (declared in its _EXTRA_OPTION_KEYS), passed through unparsed."""

    AGENT_KEYS = (
        "ignore_traffic_lights", "ignore_stop_signs", "ignore_vehicles", "use_bbs_detection",
        "sampling_resolution", "base_tlight_threshold", "base_vehicle_threshold", "detection_speed_ratio",
        "max_brake", "offset",
    )

    def __post_init__(self) -> None:
        """Check ranges."""
        if self.sampling_resolution <= 0.0:
            raise ValueError(f"sampling_resolution must be positive, got {self.sampling_resolution!r}")
        if not 0.0 <= self.max_brake <= 1.0:
            raise ValueError(f"max_brake must lie in [0, 1], got {self.max_brake!r}")

    @classmethod
    def from_opt_dict(
        cls,
        opt_dict: Mapping[str, Any] | None,
        *,
        target_speed: float,
        owner: str = "BasicAgent",
        extra_keys: Collection[str] = (),
    ) -> BasicAgentSettings:
        """Parse CARLA's agent opt_dict: agent keys, LocalPlanner keys and a subclass's `extra_keys`.

        As in CARLA, the whole dict also configures the LocalPlanner (so 'max_brake' and 'offset'
        set both), and the `target_speed` argument is the planner's target speed. Unlike CARLA, an
        opt_dict 'target_speed' that contradicts the argument raises instead of being overwritten.
        """
        options = dict(opt_dict or {})
        accepted = set(cls.AGENT_KEYS) | set(LocalPlannerSettings.OPT_DICT_KEYS) | set(extra_keys)
        check_option_keys(owner, options, accepted)
        if "target_speed" in options and float(options["target_speed"]) != float(target_speed):
            raise ValueError(
                f"{owner}: opt_dict['target_speed']={options['target_speed']!r} contradicts "
                f"target_speed={target_speed!r}; pass the speed once, as the target_speed argument"
            )
        planner_options = {k: v for k, v in options.items() if k in LocalPlannerSettings.OPT_DICT_KEYS}
        planner_options["target_speed"] = target_speed
        agent_options = {k: _coerce(v) for k, v in options.items() if k in cls.AGENT_KEYS}
        extra = {k: v for k, v in options.items() if k in extra_keys}
        return cls(
            planner=LocalPlannerSettings.from_opt_dict(planner_options, owner=f"{owner} (LocalPlanner)"),
            extra=extra,
            **agent_options,
        )

    def with_target_speed(self, target_speed: float) -> BasicAgentSettings:
        """A copy whose planner cruises at `target_speed` km/h."""
        return replace(self, planner=replace(self.planner, target_speed=float(target_speed)))


@dataclass(frozen=True)
class ConstantVelocitySettings:
    """Options ConstantVelocityAgent reads on top of BasicAgent's."""

    restart_time: float = math.inf
    """Seconds (simulation time) after a collision before the constant velocity resumes."""
    use_basic_behavior: bool = False
    """While the constant velocity is off, drive as a BasicAgent (else coast with an empty control)."""

    OPT_DICT_KEYS = ("restart_time", "use_basic_behavior")

    def __post_init__(self) -> None:
        """Check ranges."""
        if not self.restart_time >= 0.0:
            raise ValueError(f"restart_time must be a non-negative number of seconds, got {self.restart_time!r}")

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any]) -> ConstantVelocitySettings:
        """Parse the ConstantVelocityAgent keys that BasicAgentSettings passed through."""
        check_option_keys("ConstantVelocityAgent", extra, cls.OPT_DICT_KEYS)
        return cls(**{key: _coerce(value) for key, value in extra.items()})
