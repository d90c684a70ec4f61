"""The native waypoint calls that crash or raise without a server are replaced by safe ones."""
from __future__ import annotations

import subprocess
import sys

import carla
import pytest

import recon_carla_bridge  # noqa: F401  (importing the client installs the guards)
from recon_carla_bridge.world.client import Client  # noqa: F401
from recon_carla_bridge.world.maps import load_map


def test_previous_until_lane_start_on_a_lane_without_predecessor_does_not_crash() -> None:
    """Run in a subprocess: the native call would take the interpreter down (segfault)."""
    code = (
        "import carla, recon_carla_bridge.world.client\n"
        "from recon_carla_bridge.world.maps import load_map\n"
        "wp = load_map('StraightRoad').get_waypoint(carla.Location(10, 1.75, 0))\n"
        "points = wp.previous_until_lane_start(1.0)\n"
        "print(len(points), min(p.s for p in points))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    count, smallest_s = result.stdout.split()
    assert int(count) >= 8 and float(smallest_s) < 1.5


def test_next_until_lane_end_walks_to_the_end_and_is_empty_there() -> None:
    wmap = load_map("StraightRoad")
    start = wmap.get_waypoint(carla.Location(380, 1.75, 0))
    points = start.next_until_lane_end(2.0)
    assert len(points) >= 8
    assert all(p.road_id == start.road_id and p.lane_id == start.lane_id for p in points)
    assert points[-1].s > 398.0
    assert points[-1].next_until_lane_end(2.0) == []


def test_non_positive_distance_is_refused() -> None:
    wmap = load_map("StraightRoad")
    with pytest.raises(RuntimeError, match="distance > 0.0"):
        wmap.get_waypoint(carla.Location(50, 1.75, 0)).previous_until_lane_start(0.0)


def test_libcarla_own_errors_come_out_named_with_where_on_the_map() -> None:
    """What libcarla raises itself (RuntimeError/IndexError on an inconsistent network) is a NativeCallRefused
    naming the call and the waypoint's road, lane and s; still a RuntimeError for CARLA code that catches one."""
    from recon_carla_bridge.world.native_guards import NativeCallRefused, _call_native

    waypoint = load_map("StraightRoad").get_waypoint(carla.Location(50, 1.75, 0))

    def failing(wp: carla.Waypoint, distance: float) -> list[carla.Waypoint]:
        raise IndexError("vector::_M_range_check")

    with pytest.raises(NativeCallRefused) as error:
        _call_native(failing, "Waypoint.next", waypoint, 2.0)
    message = str(error.value)
    assert message.startswith(f"Waypoint.next at road {waypoint.road_id} lane {waypoint.lane_id} s=")
    assert "IndexError: vector::_M_range_check" in message and isinstance(error.value, RuntimeError)
    assert len(waypoint.next(2.0)) == 1, "the guarded call itself still works"


def test_a_waypoint_stepper_steps_as_the_guarded_methods_and_refuses_what_they_refuse() -> None:
    from recon_carla_bridge.world.native_guards import NativeCallRefused, waypoint_stepper

    waypoint = load_map("Town04").get_waypoint(carla.Location(-503.73, 177.59, 0.0))
    for forward, method in ((True, carla.Waypoint.next), (False, carla.Waypoint.previous)):
        step, current = waypoint_stepper(forward, 1.5), waypoint
        for _ in range(40):
            stepped, guarded = step(current), method(current, 1.5)
            assert [(w.road_id, w.lane_id, w.s) for w in stepped] == [(w.road_id, w.lane_id, w.s) for w in guarded]
            current = stepped[0]
        assert current.transform.location.distance(waypoint.transform.location) > 50.0  # it walked the lane
    for distance in (0.0, float("nan"), 1e6):
        with pytest.raises(NativeCallRefused):
            waypoint_stepper(True, distance)
