"""CTG episodes: the expert path of an episode is a cousin of the scene's logged ego trajectory (the adversary
package's Cousin Trajectory Generator: lane changes, speed variants, extensions), so that demonstrations cover
more than the mostly straight log. Each scene's cousins are generated and checked once (feasible, on drivable lanes,
clear of the time-aligned logged vehicles, in a world of its own) and kept."""
from __future__ import annotations

from typing import Any

import numpy as np

from recon_carla_bridge.adversary.cousins import check_cousin, make_cousin, standard_specs
from recon_carla_bridge.adversary.cousins_world import lane_offsets, logged_ego, replayed_actors
from recon_carla_bridge.adversary.lanes import on_drivable_lanes
from recon_carla_bridge.adversary.trajectory import Trajectory
from recon_carla_bridge.errors import InputError


def accepted_cousins(scene: str, open_world: Any) -> list[tuple[str, Trajectory]]:
    """(name, trajectory) of every cousin of `scene`'s log that passes the checks; `open_world(scene)` gives a fresh
    world (ticked through the log here, so not the episode's)."""
    world = open_world(scene)
    if getattr(world, "scene_bundle", None) is None:
        raise InputError(f"template scene '{scene}': cousins need a reconstructed scene with a logged ego")
    wmap = world.get_map()
    log = logged_ego(world)
    actors = replayed_actors(world, log.t)
    accepted = []
    for spec in standard_specs(lane_offsets(wmap, log), log.duration):
        cousin = check_cousin(spec, make_cousin(log, spec), actors, on_road=lambda xy: on_drivable_lanes(wmap, xy))
        if not cousin.rejection:
            accepted.append((spec.name, cousin.trajectory))
    if not accepted:
        raise InputError(f"template scene '{scene}': no cousin of the logged drive passes the checks")
    return accepted


def pick_cousin(cousins: list[tuple[str, Trajectory]], seed: int) -> tuple[str, Trajectory]:
    """The cousin of an episode seed."""
    return cousins[int(np.random.default_rng([seed, 3]).integers(len(cousins)))]
