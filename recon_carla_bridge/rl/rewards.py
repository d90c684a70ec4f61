"""RAD's rewards and terminations of one decision, from the world's collision events and the map (never a render).

Dynamic collision (a vehicle or walker), static collision (anything else, or leaving the drivable lanes), position
deviation (> `position_threshold` m from the expert path) and heading deviation (> `heading_threshold`°) each give
their penalty and end the episode. Collision penalties (and the progress reward) are longitudinal, deviation
penalties lateral: PPO's decoupled advantages read them apart. With `ignore_rear_end`, a vehicle that drives into the
ego's back from behind in its lane (logged vehicles replay their log and do not react) ends the episode as
'rear_ended' without a penalty: braking cannot avoid it, so it is not the ego's fault.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import carla

from recon_carla_bridge.rl.config import RewardSettings
from recon_carla_bridge.rl.observations import ActorState, EgoState, path_errors, to_ego_frame

EGO_LENGTH_M = 4.9  # the ego's length (vehicle.lincoln.mkz_2020) for the headway gap
CORRIDOR_HALF_WIDTH_M = 1.8  # a vehicle whose centre is this close to the ego's heading line is in its way

EVENTS = ("dynamic_collision", "static_collision", "position_deviation", "heading_deviation", "rear_ended")


@dataclass(frozen=True)
class DecisionOutcome:
    """What one decision earned: the events, the lateral and longitudinal reward parts."""

    events: tuple[str, ...] = ()
    lateral: float = 0.0
    longitudinal: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def reward(self) -> float:
        """The scalar reward (lateral + longitudinal)."""
        return self.lateral + self.longitudinal

    @property
    def terminal(self) -> bool:
        """Whether an event ends the episode."""
        return bool(self.events)


def is_dynamic(type_id: str) -> bool:
    """Whether a collision partner is a moving road user (vehicle or walker)."""
    return type_id.startswith(("vehicle.", "walker."))


def on_drivable_lanes(wmap: Any, location: carla.Location) -> bool:
    """Whether a location lies on a driving lane of the map."""
    return wmap.get_waypoint(location, project_to_road=False, lane_type=carla.LaneType.Driving) is not None


def _rear_end(ego: Any, hit: Any) -> bool:
    """Whether the other vehicle of a hit is behind the ego in its lane (it drove into the ego's back)."""
    other = ego.get_world().get_actor(hit.other_id)
    if other is None:
        return False
    transform, location = ego.get_transform(), other.get_location()
    yaw = math.radians(transform.rotation.yaw)
    dx, dy = location.x - transform.location.x, location.y - transform.location.y
    forward = dx * math.cos(yaw) + dy * math.sin(yaw)
    right = -dx * math.sin(yaw) + dy * math.cos(yaw)
    return forward < 0.0 and abs(right) < 2.0 * ego.bounding_box.extent.y


def time_to_collision(ego: EgoState, actors: list[ActorState]) -> float:
    """Seconds until the ego, at constant speeds, closes the bumper gap to the nearest vehicle ahead in its corridor
    (inf when it does not close in)."""
    heading = math.cos(ego.yaw), math.sin(ego.yaw)
    shortest = math.inf
    for actor in actors:
        forward, right = to_ego_frame(ego, actor.xy)
        if forward <= 0.0 or abs(right) > CORRIDOR_HALF_WIDTH_M:
            continue
        gap = max(0.0, forward - 0.5 * (EGO_LENGTH_M + actor.length))
        closing = ego.speed - float(actor.velocity[0] * heading[0] + actor.velocity[1] * heading[1])
        if closing > 1e-6:
            shortest = min(shortest, gap / closing)
    return shortest


def headway_penalty(settings: RewardSettings, ego: EgoState, actors: list[ActorState]) -> float:
    """Shaping of the longitudinal reward (off in RAD): settings.headway × (1 − TTC / headway_time) while the time to
    collision with the vehicle ahead is below `headway_time`; 0 otherwise. Negative or 0."""
    if settings.headway <= 0.0:
        return 0.0
    ttc = time_to_collision(ego, actors)
    return -settings.headway * max(0.0, 1.0 - ttc / settings.headway_time)


def judge_decision(settings: RewardSettings, hits: list[Any], wmap: Any, ego: Any, path: Any,
                   before: EgoState, after: EgoState, actors: list[ActorState] | None = None) -> DecisionOutcome:
    """The events and rewards of the decision that moved the ego from `before` to `after` (hits: its collisions;
    `actors`: the other vehicles after it, for the optional headway shaping)."""
    events: list[str] = []
    dynamic = [hit for hit in hits if is_dynamic(hit.other_type_id)]
    at_fault = [hit for hit in dynamic if not (settings.ignore_rear_end and _rear_end(ego, hit))]
    if at_fault:
        events.append("dynamic_collision")
    elif dynamic:
        events.append("rear_ended")  # ends the episode without a penalty: a replayed follower drove into the ego
    if any(not is_dynamic(hit.other_type_id) for hit in hits) or not on_drivable_lanes(wmap, ego.get_location()):
        events.append("static_collision")
    s_before, _, _ = path_errors(path, before.xy, before.yaw)
    s_after, offset, heading_error = path_errors(path, after.xy, after.yaw)
    if abs(offset) > settings.position_threshold:
        events.append("position_deviation")
    if abs(heading_error) > math.radians(settings.heading_threshold):
        events.append("heading_deviation")
    longitudinal = settings.progress * (s_after - s_before)
    if actors is not None and not events:
        longitudinal += headway_penalty(settings, after, actors)
    longitudinal += settings.dynamic_collision * ("dynamic_collision" in events)
    longitudinal += settings.static_collision * ("static_collision" in events)
    lateral = settings.position_deviation * ("position_deviation" in events)
    lateral += settings.heading_deviation * ("heading_deviation" in events)
    return DecisionOutcome(tuple(events), float(lateral), float(longitudinal),
                           {"offset": offset, "heading_error": heading_error})
