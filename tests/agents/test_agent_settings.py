"""opt_dict parsing: CARLA's keys are accepted, unknown keys are rejected by name."""
from __future__ import annotations

import math

import pytest

from agents.navigation.settings import (
    BasicAgentSettings,
    ConstantVelocitySettings,
    LocalPlannerSettings,
    PIDGains,
    UnknownOptionError,
)


def test_local_planner_defaults_are_carlas() -> None:
    settings = LocalPlannerSettings.from_opt_dict(None)
    assert settings.target_speed == 20.0 and settings.sampling_radius == 2.0
    assert settings.lateral_control == PIDGains(1.95, 0.05, 0.2, 0.05)
    assert settings.longitudinal_control == PIDGains(1.0, 0.05, 0.0, 0.05)
    assert (settings.max_throttle, settings.max_brake, settings.max_steering) == (0.75, 0.3, 0.8)


def test_local_planner_reads_every_carla_key() -> None:
    settings = LocalPlannerSettings.from_opt_dict({
        "dt": 0.1, "target_speed": 40, "sampling_radius": 1.0,
        "lateral_control_dict": {"K_P": 1.0, "K_D": 0.01, "K_I": 0.0, "dt": 0.05},
        "longitudinal_control_dict": {"K_P": 0.5},
        "max_throttle": 1.0, "max_brake": 0.9, "max_steering": 0.5, "offset": -1,
        "base_min_distance": 2.0, "distance_ratio": 0.2, "follow_speed_limits": True,
    })
    assert settings.dt == 0.1 and settings.target_speed == 40.0 and settings.offset == -1.0
    assert settings.lateral_control == PIDGains(1.0, 0.0, 0.01, 0.05)
    assert settings.longitudinal_control == PIDGains(0.5, 0.0, 0.0, 0.1), "a PID dict without dt takes the planner's"
    assert settings.follow_speed_limits is True


def test_unknown_key_is_named_with_a_suggestion() -> None:
    with pytest.raises(UnknownOptionError, match=r"'tagret_speed' \(did you mean 'target_speed'\?\)"):
        LocalPlannerSettings.from_opt_dict({"tagret_speed": 30})
    with pytest.raises(UnknownOptionError, match="lateral_control_dict.*'KP'"):
        LocalPlannerSettings.from_opt_dict({"lateral_control_dict": {"KP": 1.0}})


def test_basic_agent_options_split_between_agent_and_planner() -> None:
    settings = BasicAgentSettings.from_opt_dict(
        {"ignore_traffic_lights": True, "max_brake": 0.8, "offset": 0.5, "sampling_radius": 1.5},
        target_speed=35,
    )
    assert settings.ignore_traffic_lights and settings.max_brake == 0.8 and settings.offset == 0.5
    assert settings.planner.max_brake == 0.8 and settings.planner.offset == 0.5, "CARLA feeds the whole dict to the planner"
    assert settings.planner.sampling_radius == 1.5 and settings.planner.target_speed == 35.0
    defaults = BasicAgentSettings.from_opt_dict({}, target_speed=20)
    assert defaults.max_brake == 0.5 and defaults.planner.max_brake == 0.3


def test_basic_agent_rejects_typos_and_contradictions() -> None:
    with pytest.raises(UnknownOptionError, match="BasicAgent.*'ignore_traffic_light'"):
        BasicAgentSettings.from_opt_dict({"ignore_traffic_light": True}, target_speed=20)
    with pytest.raises(ValueError, match="contradicts"):
        BasicAgentSettings.from_opt_dict({"target_speed": 50}, target_speed=20)
    with pytest.raises(UnknownOptionError, match="restart_time"):
        BasicAgentSettings.from_opt_dict({"restart_time": 2.0}, target_speed=20)


def test_subclass_keys_pass_through_to_the_subclass() -> None:
    settings = BasicAgentSettings.from_opt_dict(
        {"restart_time": 2, "use_basic_behavior": True}, target_speed=20, extra_keys=ConstantVelocitySettings.OPT_DICT_KEYS
    )
    velocity = ConstantVelocitySettings.from_extra(settings.extra)
    assert velocity.restart_time == 2.0 and velocity.use_basic_behavior is True
    assert math.isinf(ConstantVelocitySettings.from_extra({}).restart_time)


@pytest.mark.parametrize("bad", [{"dt": 0.0}, {"max_brake": 1.5}, {"sampling_radius": -1.0}])
def test_out_of_range_values_raise(bad: dict) -> None:
    with pytest.raises(ValueError):
        LocalPlannerSettings.from_opt_dict(bad)
