"""DAA planning maths: seeded draws reproduce, plans are smooth and reach their goals, checks reject bad plans,
and bad `<adversary>` input errors name the element and the field."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from recon_carla_bridge.adversary.avoidability import judge_draw
from recon_carla_bridge.adversary.frenet import ReferenceLine
from recon_carla_bridge.adversary.manoeuvres import MANOEUVRES, PlanningFrame
from recon_carla_bridge.adversary.parameters import draw_parameters
from recon_carla_bridge.adversary.spec import parse_adversary
from recon_carla_bridge.adversary.trajectory import Trajectory, feasibility_violations
from recon_carla_bridge.errors import InputError

STRAIGHT = ReferenceLine(np.stack([np.linspace(0.0, 400.0, 401), np.zeros(401)], axis=1))


def _cut_in_frame(gap_ahead: float = 15.0, speed: float = 12.0) -> PlanningFrame:
    return PlanningFrame(STRAIGHT, ego_s=50.0, ego_speed=speed, adversary_s=50.0 + gap_ahead, adversary_d=3.5,
                         adversary_speed=speed, side_offset=3.5)


def test_seeded_draws_reproduce_exactly_and_differ_across_seeds() -> None:
    ranges = MANOEUVRES["cut_in_left"].defaults
    first = draw_parameters(ranges, 7)
    assert first == draw_parameters(ranges, 7)
    assert first != draw_parameters(ranges, 8)
    plan_a = MANOEUVRES["cut_in_left"].plan(_cut_in_frame(), first)
    plan_b = MANOEUVRES["cut_in_left"].plan(_cut_in_frame(), draw_parameters(ranges, 7))
    assert np.array_equal(plan_a.xy, plan_b.xy)


def test_cut_in_ends_in_the_ego_lane_at_the_drawn_gap_and_ttc() -> None:
    params = {"gap": 8.0, "time_to_collision": 4.0, "lateral_speed": 1.0, "trigger_distance": 15.0, "hold_time": 2.0}
    plan = MANOEUVRES["cut_in_left"].plan(_cut_in_frame(), params)
    end = plan.manoeuvre_end
    xy, _, speed = plan.state_at(end)
    ego_x = 50.0 + 12.0 * end
    assert abs(xy[1]) < 1e-6  # on the ego's lane centre
    assert xy[0] - ego_x - 4.8 == pytest.approx(8.0, abs=0.05)  # the gap
    assert 8.0 / (12.0 - speed) == pytest.approx(4.0, abs=0.05)  # the time to collision
    assert feasibility_violations(plan) == []
    assert np.abs(np.diff(plan.xy, axis=0)).max() < 1.0  # 0.05 s steps: no jump


def test_an_impossible_plan_is_infeasible_and_a_car_stopped_too_close_is_unavoidable() -> None:
    params = {"gap": 1.0, "time_to_collision": 0.5, "lateral_speed": 3.0, "trigger_distance": 15.0, "hold_time": 3.0}
    rushed = MANOEUVRES["cut_in_left"].plan(_cut_in_frame(gap_ahead=-10.0), params)
    assert any("acceleration" in v for v in feasibility_violations(rushed))
    t = np.arange(0.0, 5.0, 0.05)
    wall = Trajectory.from_positions(t, np.tile([60.0, 0.0], (len(t), 1)), 5.0, 0.0)  # stopped 5 m ahead
    verdict = judge_draw(wall, STRAIGHT, 50.0, 20.0)  # the ego at 20 m/s needs ~26 m to stop
    assert verdict.rejection == "unavoidable" and verdict.constant_speed_collides


def test_accepted_brake_checks_hit_the_naive_ego_but_not_the_reference_planner() -> None:
    manoeuvre = MANOEUVRES["brake_check"]
    naive_hits = 0
    for seed in range(30):
        params = draw_parameters(manoeuvre.defaults, seed)
        frame = PlanningFrame(STRAIGHT, 50.0, 12.0, 50.0 + params["trigger_distance"], 0.0, 12.0)
        verdict = judge_draw(manoeuvre.plan(frame, params), STRAIGHT, 50.0, 12.0)
        if not verdict.rejection:
            assert verdict.avoiding_options  # some braking option always exists for accepted draws
            naive_hits += verdict.constant_speed_collides
    assert naive_hits >= 20


def test_oncoming_intrusion_comes_toward_the_ego_and_returns_to_its_lane() -> None:
    params = {"lateral_speed": 1.0, "abort_fraction": 0.5, "trigger_distance": 60.0, "hold_time": 2.0}
    frame = PlanningFrame(STRAIGHT, 50.0, 10.0, 110.0, -3.5, 10.0, -3.5)
    plan = MANOEUVRES["oncoming_intrusion"].plan(frame, params)
    assert feasibility_violations(plan) == []
    assert plan.xy[-1, 0] < plan.xy[0, 0] - 20.0  # it drove toward the ego (down the reference)
    assert plan.xy[:, 1].max() == pytest.approx(-1.75, abs=0.01)  # half-way into the ego's lane at most
    assert plan.xy[-1, 1] == pytest.approx(-3.5, abs=1e-6)  # and back in its own lane
    assert abs(abs(plan.yaw[0]) - np.pi) < 0.05  # heading against the ego's direction


def _element(**attributes: str) -> ET.Element:
    return ET.Element("adversary", attributes)


@pytest.mark.parametrize(("attributes", "message"), [
    ({"manoeuvre": "barrel_roll"}, "unknown manoeuvre 'barrel_roll'"),
    ({"manoeuvre": "cut_in_left", "gap": "0.1:5"}, "gap=0.1:5 m is outside"),
    ({"manoeuvre": "cut_in_left", "gap": "9:5"}, "low > high"),
    ({"manoeuvre": "cut_in_left", "gap": "far"}, "is not a number"),
    ({"manoeuvre": "brake_check", "gap": "5"}, "has no parameter 'gap'"),
    ({"manoeuvre": "cut_in_left", "colour": "red"}, "unknown attribute(s) colour"),
    ({"manoeuvre": "cut_in_left", "actor": "above"}, "actor='above'"),
    ({"manoeuvre": "cut_in_left", "trigger": "ttc"}, "needs trigger_value"),
    ({"manoeuvre": "cut_in_left", "seed": "-3"}, "seed='-3'"),
])
def test_bad_adversary_elements_name_the_element_and_field(attributes: dict, message: str) -> None:
    with pytest.raises(InputError, match="scenario 'X' <adversary>") as error:
        parse_adversary(_element(**attributes), "f.xml: scenario 'X' <adversary>")
    assert message in str(error.value)


def test_birds_eye_relation_to_the_ego_picks_lanes_by_side() -> None:
    import carla

    from recon_carla_bridge.adversary.lanes import relation_to_ego

    ego = carla.Transform(carla.Location(0.0, 0.0, 0.0), carla.Rotation(yaw=90.0))  # heading +y; its right is -x
    assert relation_to_ego(ego, 3.5, carla.Location(0.3, 12.0, 0.0)) == "ahead"
    assert relation_to_ego(ego, 3.5, carla.Location(-0.3, -9.0, 0.0)) == "behind"
    assert relation_to_ego(ego, 3.5, carla.Location(-3.5, 2.0, 0.0)) == "right"
    assert relation_to_ego(ego, 3.5, carla.Location(3.5, 2.0, 0.0)) == "left"
    assert relation_to_ego(ego, 3.5, carla.Location(9.0, 2.0, 0.0)) == ""


def test_braking_options_judged_together_match_one_by_one() -> None:
    from recon_carla_bridge.adversary.avoidability import (BRAKING_OPTIONS, EgoOption, collides_with, ego_trajectory,
                                                           ego_trajectories, first_collision)

    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(40):
        reference = ReferenceLine(np.cumsum(rng.normal([3.0, 0.0], [0.5, 1.0], (40, 2)), axis=0))
        ego_s, speed = float(rng.uniform(0, 10)), float(rng.uniform(0, 15))
        t = np.arange(0.0, rng.uniform(2, 6), 0.1)
        s = ego_s + rng.uniform(5, 25) + 0.7 * speed * t
        adversary = Trajectory.from_positions(t, reference.to_world(s, rng.uniform(-4, 4) * (1 - t / t[-1])), t[-1])
        together = ego_trajectories(reference, ego_s, speed, BRAKING_OPTIONS, adversary.t)
        alone = [ego_trajectory(reference, ego_s, speed, EgoOption(d), adversary.t) for d in BRAKING_OPTIONS]
        for a, b in zip(together, alone):
            assert np.array_equal(a.xy, b.xy) and np.array_equal(a.yaw, b.yaw) and np.array_equal(a.speed, b.speed)
        expected = [first_collision(ego, adversary, (2.0, 0.9)) is not None for ego in alone]
        assert list(collides_with(together, adversary, (2.0, 0.9))) == expected
        hits += sum(expected)
    assert 0 < hits < 40 * len(BRAKING_OPTIONS)  # both outcomes were compared


def test_judging_until_the_first_rejection_gives_the_full_judgement_s_rejection() -> None:
    manoeuvre = MANOEUVRES["cut_in_left"]
    causes = []
    for seed in range(60):
        rng = np.random.default_rng(seed)
        params = {"gap": rng.uniform(0.5, 15.0), "time_to_collision": rng.uniform(0.5, 6.0),
                  "lateral_speed": rng.uniform(0.5, 3.0), "trigger_distance": 15.0, "hold_time": 3.0}
        plan = manoeuvre.plan(_cut_in_frame(gap_ahead=rng.uniform(-10.0, 20.0), speed=rng.uniform(3.0, 15.0)), params)
        limit = rng.uniform(60.0, 200.0)  # a road that ends somewhere: some plans leave it

        def on_road(xy: np.ndarray, limit: float = limit) -> bool:
            return bool(np.all(xy[:, 0] < limit))

        full = judge_draw(plan, STRAIGHT, 50.0, 12.0, on_road=on_road)
        short = judge_draw(plan, STRAIGHT, 50.0, 12.0, on_road=on_road, until_rejected=True)
        assert short.rejection == full.rejection and short.infeasible == full.infeasible
        if not full.rejection:
            assert short == full  # an accepted draw went through every check
        causes.append(full.rejection)
    assert {"infeasible", "off_road", ""} <= set(causes)  # the early stops and the full path were compared


def test_frenet_projection_is_the_same_asked_again_or_in_between_others() -> None:
    rng = np.random.default_rng(3)
    points = np.cumsum(rng.normal([2.0, 0.0], [0.3, 0.8], (60, 2)), axis=0)
    line, fresh = ReferenceLine(points), ReferenceLine(points)
    queries = points[rng.integers(0, 60, 40)] + rng.normal(0.0, 2.0, (40, 2))
    answers = []
    for xy in queries:
        answers.append(line.to_frenet(xy))
        assert line.to_frenet(xy.copy()) == answers[-1]  # asked again: the remembered answer
    for xy, answer in zip(queries[::-1], answers[::-1]):
        assert fresh.to_frenet(xy) == answer == line.to_frenet(xy)  # a line that never remembered it agrees
