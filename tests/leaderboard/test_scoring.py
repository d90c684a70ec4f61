"""Leaderboard 2.0 scoring on hand-built events: penalties, formulas, statuses and the global record."""
from __future__ import annotations

import pytest

from recon_carla_bridge.leaderboard import scoring
from recon_carla_bridge.leaderboard.events import TrafficEvent
from recon_carla_bridge.leaderboard.events import TrafficEventType as T


def _score(rc: float, *events: TrafficEvent, **kwargs) -> dict:
    completion = TrafficEvent(T.ROUTE_COMPLETION, 1, data={"route_completed": rc})
    outcome = scoring.RouteOutcome((completion, *events), route_length=1000.0, duration_game=60.0,
                                   duration_system=5.0, **kwargs)
    return scoring.score_route(scoring.new_route_record("RouteScenario_0_rep0", 0), outcome, 0)


def test_one_vehicle_collision_scores_rc_times_0_6():
    record = _score(80.0, TrafficEvent(T.COLLISION_VEHICLE, 5, "Agent collided against object with type=vehicle.x "
                                       "and id=3 at (x=1, y=2, z=0)", {"location": (1.0, 2.0, 0.0)}))
    assert record["scores"]["score_composed"] == pytest.approx(80.0 * 0.6)
    assert record["infractions"]["collisions_vehicle"] and record["infraction_details"]["collisions_vehicle"][0]["x"] == 1.0
    assert record["status"] == "Failed"


def test_two_red_lights_score_rc_times_0_49():
    lights = [TrafficEvent(T.TRAFFIC_LIGHT_INFRACTION, k, f"Agent ran a red light {k}") for k in (1, 2)]
    record = _score(100.0, *lights)
    assert record["scores"]["score_penalty"] == pytest.approx(0.49)
    assert record["scores"]["score_composed"] == pytest.approx(49.0)
    assert record["status"] == "Completed"


@pytest.mark.parametrize("pct", [0.0, 12.5, 40.0])
def test_outside_lanes_multiplies_by_one_minus_pct(pct):
    event = TrafficEvent(T.OUTSIDE_ROUTE_LANES_INFRACTION, 3, "Agent went outside its route lanes for about 10.0 "
                         f"meters ({pct}% of the completed route)", {"percentage": pct})
    assert _score(90.0, event)["scores"]["score_penalty"] == pytest.approx(1 - pct / 100)


@pytest.mark.parametrize("pct", [0.0, 50.0, 80.0])
def test_min_speed_multiplies_by_one_minus_0_3_times_shortfall(pct):
    event = TrafficEvent(T.MIN_SPEED_INFRACTION, 3, f"Average speed is {pct}% of the surrounding traffic's one",
                         {"percentage": pct})
    assert _score(90.0, event)["scores"]["score_penalty"] == pytest.approx(1 - 0.3 * (1 - pct / 100))


def test_each_fixed_penalty_value():
    expected = {T.COLLISION_PEDESTRIAN: 0.5, T.COLLISION_VEHICLE: 0.6, T.COLLISION_STATIC: 0.65,
                T.TRAFFIC_LIGHT_INFRACTION: 0.7, T.STOP_INFRACTION: 0.8, T.SCENARIO_TIMEOUT: 0.7,
                T.YIELD_TO_EMERGENCY_VEHICLE: 0.7}
    for kind, value in expected.items():
        assert _score(100.0, TrafficEvent(kind, 1, "x"))["scores"]["score_penalty"] == pytest.approx(value)


def test_route_deviation_and_blocked_end_the_route_with_their_status():
    assert _score(40.0, TrafficEvent(T.ROUTE_DEVIATION, 9, "dev"))["status"] == "Failed - Agent deviated from the route"
    assert _score(40.0, TrafficEvent(T.VEHICLE_BLOCKED, 9, "blk"))["status"] == "Failed - Agent got blocked"
    assert _score(40.0, route_timeout=True)["status"] == "Failed - Agent timed out"


def test_global_record_means_std_and_per_km():
    a = _score(100.0)
    b = _score(50.0, TrafficEvent(T.COLLISION_VEHICLE, 2, "c"))
    record = scoring.global_record([a, b], 2)
    assert record["scores_mean"]["score_route"] == pytest.approx(75.0)
    assert record["scores_mean"]["score_composed"] == pytest.approx((100 + 30) / 2)
    # km driven = 1 km * 1.0 + 1 km * 0.5 = 1.5 km; one vehicle collision -> 0.667 per km
    assert record["infractions"]["collisions_vehicle"] == pytest.approx(round(1 / 1.5, 3))
    assert record["scores_std_dev"]["score_route"] == pytest.approx(round((2 * 25 ** 2) ** 0.5, 3))
    assert len(scoring.global_values(record)) == len(scoring.GLOBAL_LABELS)
