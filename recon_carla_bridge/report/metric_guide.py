"""What each number of the report means and which direction is better, for readers new to the benchmarks."""
from __future__ import annotations

HIGHER, LOWER = "higher", "lower"

# Leaderboard labels: (meaning, better direction).
LEADERBOARD_GUIDE: dict[str, tuple[str, str]] = {
    "Avg. driving score": ("route completion × infraction penalty, averaged over routes (0-100)", HIGHER),
    "Avg. route completion": ("share of the route driven (%) before it ended", HIGHER),
    "Avg. infraction penalty": ("product of the penalty factors of every infraction (1.0: none)", HIGHER),
    "Collisions with pedestrians": ("collisions with pedestrians per km driven", LOWER),
    "Collisions with vehicles": ("collisions with vehicles per km driven", LOWER),
    "Collisions with layout": ("collisions with static objects per km driven", LOWER),
    "Red lights infractions": ("red lights run per km driven", LOWER),
    "Stop sign infractions": ("stop signs not stopped at per km driven", LOWER),
    "Off-road infractions": ("km driven outside the route's lanes", LOWER),
    "Route deviations": ("times the ego left its route per km", LOWER),
    "Route timeouts": ("routes not finished in the allowed time, per km", LOWER),
    "Agent blocked": ("times the ego stood still too long, per km", LOWER),
    "Yield emergency vehicles infractions": ("emergency vehicles not let through, per km", LOWER),
    "Scenario timeouts": ("scenarios the ego did not get through in time, per km", LOWER),
    "Min speed infractions": ("checkpoints where the ego drove much slower than the traffic around it, per km", LOWER),
}

# Extra metrics by registry name: (meaning, better direction).
METRIC_GUIDE: dict[str, tuple[str, str]] = {
    "rad.CR": ("share of routes whose first failure is a collision", LOWER),
    "rad.DCR": ("share of routes whose first failure is a collision with a vehicle or pedestrian", LOWER),
    "rad.SCR": ("share of routes whose first failure is a collision with a static object", LOWER),
    "rad.DR": ("share of routes whose first failure is leaving the expert path (> 2 m or > 40°)", LOWER),
    "rad.PDR": ("share of routes whose first failure is being > 2 m from the expert path", LOWER),
    "rad.HDR": ("share of routes whose first failure is a heading > 40° off the expert path", LOWER),
    "rad.ADD": ("mean distance (m) to the expert path before the first failure", LOWER),
    "rad.long_jerk": ("mean |longitudinal jerk| (m/s³) before the first failure: smoothness", LOWER),
    "rad.lat_jerk": ("mean |lateral jerk| (m/s³) before the first failure: smoothness", LOWER),
    "b2d.comfortness": ("share of 2 s segments within nuPlan's comfort bounds", HIGHER),
    "b2d.efficiency": ("ego speed as % of the surrounding traffic's at min-speed checkpoints", HIGHER),
    "alpasim.collision_any": ("share of routes with any collision", LOWER),
    "alpasim.collision_front": ("share of routes with a collision at the ego's front", LOWER),
    "alpasim.collision_rear": ("share of routes with a collision at the ego's rear", LOWER),
    "alpasim.collision_lateral": ("share of routes with a collision at the ego's side", LOWER),
    "alpasim.collision_at_fault": ("share of routes with a front or side collision (the ego's fault)", LOWER),
    "alpasim.offroad": ("share of routes where the ego left the drivable area", LOWER),
    "alpasim.wrong_lane": ("share of routes where the ego drove in an oncoming lane", LOWER),
    "alpasim.min_distance": ("smallest distance (m) to another actor", HIGHER),
    "hugsim.nc": ("no-collision score per tick (1: never colliding)", HIGHER),
    "hugsim.dac": ("drivable-area compliance per tick (1: always on the road)", HIGHER),
    "hugsim.ttc": ("time-to-collision score per tick (1: never within the TTC threshold)", HIGHER),
    "hugsim.c": ("comfort score per tick (1: always within the comfort bounds)", HIGHER),
    "hugsim.hd_score": ("HUGSIM HD-Score: route completion × mean of NC·DAC·(TTC, comfort) per tick", HIGHER),
}


def arrow(better: str) -> str:
    """'↑ higher is better' or '↓ lower is better'."""
    return "↑ higher is better" if better == HIGHER else "↓ lower is better"
