"""Background traffic of a route, as each leaderboard generation makes it; seeded, and off on request.

- Leaderboard 1.0 (`RouteScenario._initialize_actors`): a fixed number of autopilot vehicles per town
  (`TOWN_AMOUNT_V1`, the leaderboard's table), any `vehicle.*` blueprint, at shuffled spawn points all over
  the town, spawned once before the route starts. Its table keys Town10 as 'Town10'; we give the same amount
  to 'Town10HD' (the only Town10 map CARLA ships), where the leaderboard's lookup would find none.
- Leaderboard 2.0 (srunner's `BackgroundBehavior`): traffic kept around the ego along its route — a few
  vehicles ahead of and behind the ego on every lane of its direction, and oncoming vehicles on the lanes
  beside them; vehicles that fall far out of range are removed and new ones appear at the edge of the range,
  never within `SPAWN_FREE_RADIUS` of the ego.

Both draw blueprints, colours and places from `numpy.random.RandomState(seed)`, so a route's traffic is the
same on every run with the same seed. Vehicles carry role_name 'background' (the criteria's MinSpeed test and
the episode recorder read it) and are driven by the world's traffic manager.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import carla
import numpy as np

TOWN_AMOUNT_V1 = {"Town01": 120, "Town02": 100, "Town03": 120, "Town04": 200, "Town05": 120, "Town06": 150,
                  "Town07": 110, "Town08": 180, "Town09": 300, "Town10": 120, "Town10HD": 120}
ROLE_NAME = "background"

# Leaderboard 2.0's road behaviour, in the spirit of srunner's BackgroundBehavior.
FRONT_VEHICLES = 3  # per lane of the ego's direction, ahead of it
BACK_VEHICLES = 3  # per lane, behind it
ONCOMING_VEHICLES = 2  # per oncoming lane, ahead of the ego
VEHICLE_SPACING = 15.0  # m between spawned vehicles along a lane
SPAWN_FREE_RADIUS = 20.0  # m: nothing appears closer than this to the ego
BASE_RADIUS = 65.0  # m: vehicles farther than this (plus RADIUS_PER_SPEED per m/s of the ego) are removed
RADIUS_PER_SPEED = 1.8  # m of radius per m/s of ego speed
REFRESH_TICKS = 10  # world ticks between two upkeep passes
SLOT_CLEARANCE = 8.0  # m: a place is free when no vehicle is this close


@dataclass(frozen=True)
class TrafficSettings:
    """What background traffic to run.

    Fields:
        enabled: False runs the route on an empty road (`--no-background-traffic`).
        vehicles: how many vehicles (1.0: in the whole town; 2.0: the most kept around the ego at once), or None
            for the leaderboard's amount.
        seed: seeds blueprint, colour and place choices.
    """

    enabled: bool = True
    vehicles: int | None = None
    seed: int = 0

    def describe(self) -> str:
        """'off', 'leaderboard amount' or 'N vehicles' (for the results file)."""
        if not self.enabled:
            return "off"
        return "leaderboard amount" if self.vehicles is None else f"{self.vehicles} vehicles"


def start_background_traffic(world: Any, ego: Any, planned: Any, settings: TrafficSettings) -> BackgroundTraffic:
    """The background traffic of a route in the way its route file's leaderboard generation makes it."""
    if not settings.enabled:
        return BackgroundTraffic(world, settings, mode="off")
    if planned.config.format == "1.0":
        return TownTraffic(world, ego, planned, settings)
    return EgoTraffic(world, ego, planned, settings)


class BackgroundTraffic:
    """Base class: holds the vehicles, removes them at the end and summarises what was spawned."""

    def __init__(self, world: Any, settings: TrafficSettings, mode: str) -> None:
        """No vehicles yet; `mode` names the generation's behaviour ('town', 'around_ego' or 'off')."""
        self.world = world
        self.settings = settings
        self.mode = mode
        self.rng = np.random.RandomState(settings.seed)
        self.vehicles: dict[int, Any] = {}
        self.spawned = 0
        self.removed = 0
        self.requested = 0
        self.max_alive = 0
        self._blueprints = list(world.get_blueprint_library().filter("vehicle.*")) if mode != "off" else []

    def _blueprint(self) -> Any:
        blueprint = self._blueprints[int(self.rng.randint(len(self._blueprints)))]
        if blueprint.has_attribute("color"):
            colours = blueprint.get_attribute("color").recommended_values
            if colours:
                blueprint.set_attribute("color", colours[int(self.rng.randint(len(colours)))])
        blueprint.set_attribute("role_name", ROLE_NAME)
        return blueprint

    def _spawn(self, transform: carla.Transform) -> Any:
        """An autopilot background vehicle at `transform` (lifted 0.2 m, as srunner does), or None if taken."""
        lifted = carla.Transform(carla.Location(transform.location.x, transform.location.y,
                                                transform.location.z + 0.2), transform.rotation)
        vehicle = self.world.try_spawn_actor(self._blueprint(), lifted)
        if vehicle is None:
            return None
        vehicle.set_autopilot(True)
        self.vehicles[vehicle.id] = vehicle
        self.spawned += 1
        self.max_alive = max(self.max_alive, len(self.vehicles))
        return vehicle

    def _remove(self, actor_id: int) -> None:
        vehicle = self.vehicles.pop(actor_id)
        try:
            vehicle.destroy()
        except RuntimeError:
            pass
        self.removed += 1

    def tick(self) -> None:
        """Upkeep after a world tick (nothing for traffic spawned once)."""

    def close(self) -> None:
        """Remove every background vehicle still in the world."""
        for actor_id in list(self.vehicles):
            self._remove(actor_id)

    def summary(self) -> dict[str, Any]:
        """How the traffic was made and how many vehicles it spawned (for the results file)."""
        return {"mode": self.mode, "seed": self.settings.seed, "requested": self.requested,
                "spawned": self.spawned, "removed": self.removed, "max_alive": self.max_alive}


class TownTraffic(BackgroundTraffic):
    """Leaderboard 1.0: the town's amount of autopilot vehicles at shuffled spawn points, spawned once."""

    def __init__(self, world: Any, ego: Any, planned: Any, settings: TrafficSettings) -> None:
        """Spawn the vehicles now (spawn points the ego or another vehicle occupies are passed over)."""
        super().__init__(world, settings, mode="town")
        town = planned.config.town.removesuffix("_Opt")
        amount = TOWN_AMOUNT_V1.get(town, 0) if settings.vehicles is None else settings.vehicles
        self.requested = amount
        points = world.get_map().get_spawn_points()
        order = self.rng.permutation(len(points))
        for index in order:
            if len(self.vehicles) >= amount:
                break
            self._spawn(points[int(index)])
        if len(self.vehicles) < amount:
            print(f"background traffic: {len(self.vehicles)} of {amount} vehicles spawned "
                  f"({len(points)} spawn points in {town})", flush=True)


class EgoTraffic(BackgroundTraffic):
    """Leaderboard 2.0: vehicles kept ahead, behind and oncoming around the ego as it drives its route."""

    def __init__(self, world: Any, ego: Any, planned: Any, settings: TrafficSettings) -> None:
        """Fill the places around the ego's start now; `tick` keeps the traffic around it afterwards."""
        super().__init__(world, settings, mode="around_ego")
        self.ego = ego
        self.map = world.get_map()
        self.points = planned.points
        self.cumulative = planned.cumulative
        self.requested = settings.vehicles if settings.vehicles is not None else -1
        self._ticks = 0
        self._route_index = 0
        self._fill(initial=True)

    def _limit(self, lanes: int, oncoming: int) -> int:
        natural = lanes * (FRONT_VEHICLES + BACK_VEHICLES) + oncoming * ONCOMING_VEHICLES
        return natural if self.settings.vehicles is None else self.settings.vehicles

    def _ego_route_index(self) -> int:
        location = self.ego.get_location()
        low, high = max(self._route_index - 5, 0), min(self._route_index + 200, len(self.points))
        window = self.points[low:high, :2]
        offsets = np.hypot(window[:, 0] - location.x, window[:, 1] - location.y)
        self._route_index = low + int(np.argmin(offsets))
        return self._route_index

    def _waypoint_at(self, distance: float) -> Any:
        """The driving waypoint of the route `distance` m along it, or None beyond its ends."""
        if distance < 0.0 or distance > self.cumulative[-1]:
            return None
        index = int(np.searchsorted(self.cumulative, distance))
        x, y, z = self.points[min(index, len(self.points) - 1)]
        return self.map.get_waypoint(carla.Location(float(x), float(y), float(z)), project_to_road=True,
                                     lane_type=carla.LaneType.Driving)

    @staticmethod
    def _lanes(waypoint: Any) -> tuple[list[Any], list[Any]]:
        """(lanes of the waypoint's direction, oncoming lanes) of its road at that place, driving lanes only."""
        same, oncoming = [waypoint], []
        for step in ("get_left_lane", "get_right_lane"):
            current = waypoint
            for _ in range(6):
                current = getattr(current, step)()
                if current is None or current.lane_type != carla.LaneType.Driving:
                    break
                if current.lane_id * waypoint.lane_id > 0:
                    same.append(current)
                else:
                    oncoming.append(current)
                    break  # past the centre line: the lanes beyond it look the other way again
        return same, oncoming

    def _free(self, location: carla.Location) -> bool:
        for actor in self.world.get_actors().filter("vehicle.*"):
            if actor.get_location().distance(location) < SLOT_CLEARANCE:
                return False
        return True

    def _fill(self, initial: bool) -> None:
        """Spawn where places are empty: all places around the ego at the start, the range's edges afterwards."""
        along = float(self.cumulative[self._ego_route_index()])
        ego_location = self.ego.get_location()
        reference = self._waypoint_at(along)
        if reference is None:
            return
        same, oncoming = self._lanes(reference)
        limit = self._limit(len(same), len(oncoming))
        front = [SPAWN_FREE_RADIUS + k * VEHICLE_SPACING for k in range(FRONT_VEHICLES)]
        back = [-(SPAWN_FREE_RADIUS + k * VEHICLE_SPACING) for k in range(BACK_VEHICLES)]
        oncoming_offsets = [SPAWN_FREE_RADIUS + k * VEHICLE_SPACING for k in range(ONCOMING_VEHICLES)]
        if not initial:
            front, back, oncoming_offsets = front[-1:], back[-1:], oncoming_offsets[-1:]
        places: list[carla.Transform] = []
        for offset, wants_oncoming in [(o, False) for o in front + back] + [(o, True) for o in oncoming_offsets]:
            waypoint = self._waypoint_at(along + offset)
            if waypoint is None:
                continue
            lanes_here, oncoming_here = self._lanes(waypoint)
            for lane in (oncoming_here if wants_oncoming else lanes_here):
                places.append(lane.transform)
        for index in self.rng.permutation(len(places)):
            if len(self.vehicles) >= limit:
                break
            place = places[int(index)]
            if place.location.distance(ego_location) < SPAWN_FREE_RADIUS - 1.0 or not self._free(place.location):
                continue
            self._spawn(place)

    def tick(self) -> None:
        """Every REFRESH_TICKS ticks: remove vehicles out of range, then fill the range's edges."""
        self._ticks += 1
        if self._ticks % REFRESH_TICKS:
            return
        ego_location = self.ego.get_location()
        radius = BASE_RADIUS + RADIUS_PER_SPEED * self.ego.get_velocity().length()
        for actor_id, vehicle in list(self.vehicles.items()):
            if not vehicle.is_alive or vehicle.get_location().distance(ego_location) > radius:
                self._remove(actor_id)
        self._fill(initial=False)
