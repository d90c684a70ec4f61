"""DAA draws in the world (Town04): the same seed drives the same run exactly, a brake check hits the constant-speed
ego and not the reference planner, and plan points on libcarla's gaps between two lanes count as on the road."""
from __future__ import annotations

import carla
import numpy as np
import pytest

from recon_carla_bridge.paths import REPO_ROOT

TOWN04 = REPO_ROOT.parent / "shared" / "data" / "carla_maps" / "Town04.xodr"
pytestmark = pytest.mark.skipif(not TOWN04.is_file(), reason="needs ../shared/data/carla_maps/Town04.xodr")


@pytest.fixture(scope="module")
def town04():
    from recon_carla_bridge.adversary.world_draws import DrawWorld

    return DrawWorld("Town04")


def test_a_seeded_brake_check_reproduces_and_only_the_naive_ego_hits_it(town04) -> None:
    from recon_carla_bridge.adversary.world_draws import PLACES, default_spec

    place, spec = PLACES["brake_check"], default_spec("brake_check", 0)
    first = town04.run_draw(place, spec, "constant_speed")
    again = town04.run_draw(place, spec, "constant_speed")
    assert first.verdict == "accepted" and first.collided
    assert (again.collided, again.first_contact_s, again.ticks, again.params) == (
        first.collided, first.first_contact_s, first.ticks, first.params)
    assert not town04.run_draw(place, spec, "reference").collided


def test_an_infeasible_draw_is_rejected_before_anyone_drives(town04) -> None:
    from recon_carla_bridge.adversary.world_draws import PLACES, default_spec

    result = town04.run_draw(PLACES["cut_in_left"], default_spec("cut_in_left", 2), "constant_speed")
    assert result.verdict == "infeasible" and result.ticks == 1 and not result.collided


def test_points_on_the_boundary_between_two_lanes_are_on_the_road(town04) -> None:
    from recon_carla_bridge.adversary.lanes import on_drivable_lanes

    wmap = town04.map
    boundary = np.array([[-509.59, 212.99]])  # between lanes -2 and -3 of road 6: libcarla's own lookup misses it
    assert wmap.get_waypoint(carla.Location(-509.59, 212.99, 0.0), project_to_road=False,
                             lane_type=carla.LaneType.Driving) is None
    assert on_drivable_lanes(wmap, boundary)
    assert not on_drivable_lanes(wmap, np.array([[-530.0, 212.99]]))  # well off the carriageway
