"""Seeded DAA draws in the world, one manoeuvre window each: many draws per process without ScenarioRunner's setup.

One draw places the ego (at a fixed spot of a CARLA town, already at its cruise speed) and the adversary where the
manoeuvre is triggered (its drawn `trigger_distance` along its start lane), runs the `DAAManoeuvre` behaviour with a
trigger at once, and drives the ego with one of the measured egos (`ego_drivers`) until the plan has been driven to
its end. The plan's verdict (rejected as infeasible, off-road or unavoidable; accepted) is the behaviour's own, and a
collision is what the ego's `sensor.other.collision` reports for the adversary.

    python -m recon_carla_bridge.adversary.world_draws --draws 200 --json docs/figures/daa/world_draws.json
"""
from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import carla
import numpy as np
import py_trees

from recon_carla_bridge.adversary.behaviours import PLAN_KEY, REJECTIONS_KEY, DAAManoeuvre
from recon_carla_bridge.adversary.ego_drivers import EGO_DRIVERS, EGO_SPEED_KMH
from recon_carla_bridge.adversary.lanes import side_lane
from recon_carla_bridge.adversary.manoeuvres import MANOEUVRES
from recon_carla_bridge.adversary.spec import AdversarySpec
from recon_carla_bridge.compat_imports import install_srunner_alias
from recon_carla_bridge.errors import InputError

install_srunner_alias()

from srunner.scenariomanager.carla_data_provider import CarlaDataProvider  # noqa: E402
from srunner.scenariomanager.timer import GameTime  # noqa: E402

DT = 0.05  # s, ScenarioRunner's 20 Hz
EGO_MODEL = "vehicle.lincoln.mkz_2020"
ADVERSARY_MODEL = "vehicle.tesla.model3"
AFTER_PLAN_S = 0.5  # s driven on after the plan's end (a collision at its last sample still registers)
DRIVE_DISTANCE_M = 250.0  # m of its lane the ego is routed along (longer than any draw)
SPEED_OFFSETS = {"behind": 4.0, "side_ahead": -3.0}  # m/s added to the ego's speed for the adversary's start speed


@dataclass(frozen=True)
class Place:
    """Where the draws of a manoeuvre run: a town and the ego's start (a lane with lanes on both sides, or an
    oncoming lane to its left)."""

    town: str
    x: float
    y: float


TOWN04_MIDDLE_LANE = Place("Town04", -507.23, 177.57)  # road 6, lane -2 of four one-way lanes, straight for ~120 m
TOWN01_TWO_WAY = Place("Town01", 92.42, 308.33)  # one lane each way
PLACES = {name: (TOWN01_TWO_WAY if manoeuvre.side_name == "oncoming" else TOWN04_MIDDLE_LANE)
          for name, manoeuvre in MANOEUVRES.items()}


@dataclass(frozen=True)
class DrawResult:
    """What one draw did with one ego."""

    manoeuvre: str
    seed: int
    ego: str
    verdict: str  # 'accepted' or the rejection cause at the trigger
    collided: bool  # the ego's collision sensor reported the adversary
    first_contact_s: float | None  # s after the trigger
    params: dict[str, float]
    ticks: int


@dataclass
class ManoeuvreRun:
    """How one driven manoeuvre went."""

    behaviour: DAAManoeuvre
    verdict: str  # 'accepted', the first rejection cause, or 'no plan'
    trigger_time: float  # game time s of the plan (or of the start while none)
    ticks: int = 0  # world ticks driven
    plan_tick: int = 0  # the tick count when the plan came


class DrawWorld:
    """One loaded town, reused across draws (actors are destroyed after each)."""

    def __init__(self, town: str):
        import recon_carla_bridge

        self.client = recon_carla_bridge.Client()
        self.world = self.client.load_world(town)
        settings = self.world.get_settings()
        settings.synchronous_mode, settings.fixed_delta_seconds = True, DT
        self.world.apply_settings(settings)
        self.map = self.world.get_map()
        self._route_planner = None

    def activate(self) -> None:
        """Point srunner's data provider (used by the behaviours) at this world."""
        CarlaDataProvider.cleanup()
        CarlaDataProvider.set_client(self.client)
        CarlaDataProvider.set_world(self.world)

    def route_planner(self):
        """A GlobalRoutePlanner of the town, built once (every CARLA agent would otherwise build its own)."""
        if self._route_planner is None:
            from agents.navigation.global_route_planner import GlobalRoutePlanner

            self._route_planner = GlobalRoutePlanner(self.map, 2.0)
        return self._route_planner

    def spawn_moving(self, model: str, waypoint: carla.Waypoint, role: str, speed: float) -> carla.Actor:
        """A vehicle at the waypoint (0.3 m up), already moving along it at `speed` m/s."""
        blueprint = self.world.get_blueprint_library().find(model)
        blueprint.set_attribute("role_name", role)
        transform = waypoint.transform
        spawn = carla.Transform(carla.Location(transform.location.x, transform.location.y, transform.location.z + 0.3),
                                transform.rotation)
        actor = self.world.spawn_actor(blueprint, spawn)
        yaw = math.radians(transform.rotation.yaw)
        actor.set_target_velocity(carla.Vector3D(speed * math.cos(yaw), speed * math.sin(yaw), 0.0))
        return actor

    def adversary_start(self, ego_waypoint: carla.Waypoint, spec: AdversarySpec, distance: float) -> carla.Waypoint:
        """The adversary's waypoint at the trigger: `distance` m ahead of (behind) the ego along its start lane."""
        manoeuvre = spec.manoeuvre
        lane = side_lane(ego_waypoint, manoeuvre.side_name) if manoeuvre.side_name else ego_waypoint
        if lane is None:
            raise InputError(f"{self.map.name}: no {manoeuvre.side_name} lane beside the ego for {manoeuvre.name}")
        backwards = manoeuvre.start == "behind" or manoeuvre.side_name == "oncoming"  # oncoming lanes run toward the ego
        moved = lane.previous(distance) if backwards else lane.next(distance)
        if not moved:
            raise InputError(f"{self.map.name}: the lane ends within {distance:g} m of the ego")
        return moved[0]

    def run_draw(self, place: Place, spec: AdversarySpec, ego_kind: str, max_s: float = 30.0) -> DrawResult:
        """One draw of `spec` (its seed) against the ego `ego_kind`."""
        self.activate()
        blackboard = py_trees.blackboard.Blackboard()
        blackboard.set(PLAN_KEY, None, overwrite=True)
        blackboard.set(REJECTIONS_KEY, {}, overwrite=True)
        params = spec.draw()
        ego_speed = EGO_SPEED_KMH / 3.6
        adversary_speed = max(0.0, ego_speed + SPEED_OFFSETS.get(spec.manoeuvre.start, 0.0))
        spec = replace(spec, trigger="time", trigger_value=0.0, patience=0.0, cruise_speed=adversary_speed)
        ego_waypoint = self.map.get_waypoint(carla.Location(place.x, place.y, 0.0))
        actors: list[carla.Actor] = []
        contacts: list[float] = []
        try:
            ego = self.spawn_moving(EGO_MODEL, ego_waypoint, "hero", ego_speed)
            actors.append(ego)
            adversary = self.spawn_moving(ADVERSARY_MODEL, self.adversary_start(ego_waypoint, spec, params["trigger_distance"]),
                                    "adversary", adversary_speed)
            actors.append(adversary)
            sensor = self.world.spawn_actor(self.world.get_blueprint_library().find("sensor.other.collision"),
                                            carla.Transform(), attach_to=ego)
            actors.append(sensor)
            sensor.listen(lambda event: contacts.append(event.timestamp) if event.other_actor.id == adversary.id else None)
            self.tick()  # the start velocities take effect
            run = self.drive(ego, adversary, spec, ego_kind, max_s)
            if run.behaviour.trajectory is None:
                return DrawResult(spec.manoeuvre.name, spec.seed, ego_kind, run.verdict, False, None, params, 1)
            first = round(min(contacts) - run.trigger_time, 3) if contacts else None  # game time accumulates rounding
            return DrawResult(spec.manoeuvre.name, spec.seed, ego_kind, "accepted", bool(contacts), first, params,
                              run.ticks)
        finally:
            for actor in reversed(actors):
                if actor.type_id.startswith("sensor"):
                    actor.stop()
                actor.destroy()
            self.world.tick()

    def drive(self, ego: carla.Actor, adversary: carla.Actor, spec: AdversarySpec, ego_kind: str, max_s: float,
              on_tick=None, after_plan_s: float = AFTER_PLAN_S) -> "ManoeuvreRun":
        """Run `spec`'s DAAManoeuvre on `adversary` (triggered per the spec) with the ego driven by `ego_kind`,
        until the plan has been driven `after_plan_s` past its end, no plan came within the spec's patience, or
        `max_s` s; `on_tick()` after every tick."""
        driver = EGO_DRIVERS[ego_kind]("")
        driver.route_planner, driver.drive_distance = self.route_planner(), DRIVE_DISTANCE_M
        behaviour = DAAManoeuvre(adversary, ego, spec, name=f"DAA {spec.manoeuvre.name}")
        start = GameTime.get_time()
        run = ManoeuvreRun(behaviour, "no plan", start)
        plan_first = spec.trigger == "time" and spec.trigger_value == 0  # plan from the state as placed
        while run.ticks * DT < max_s:
            if run.ticks == 0 and plan_first:
                self._tick_behaviour(run, spec.patience)
            if run.verdict not in ("accepted", "no plan"):
                return run
            if run.verdict == "accepted" and ((run.ticks - run.plan_tick) * DT
                                              >= behaviour.trajectory.duration + after_plan_s - 1e-6):
                return run  # counted in ticks: game time accumulates rounding, and a run must repeat exactly
            ego.apply_control(driver.run_step({}, GameTime.get_time()))
            self._tick_behaviour(run, spec.patience)
            self.tick()
            run.ticks += 1
            if on_tick is not None:
                on_tick()
        return run

    def _tick_behaviour(self, run: "ManoeuvreRun", patience: float) -> None:
        """Tick the manoeuvre while it runs; note when its plan came, or why none will."""
        behaviour = run.behaviour
        if behaviour.status not in (py_trees.common.Status.RUNNING, py_trees.common.Status.INVALID):
            return
        with _quiet():
            behaviour.tick_once()
        if behaviour.trajectory is not None and run.verdict != "accepted":
            run.verdict, run.trigger_time, run.plan_tick = "accepted", GameTime.get_time(), run.ticks
        elif behaviour.trajectory is None and (behaviour.status == py_trees.common.Status.FAILURE
                                               or (patience == 0 and behaviour.rejections)):
            run.verdict = next(iter(behaviour.rejections), "no plan")

    def tick(self) -> None:
        """Tick the world and srunner's game time."""
        self.world.tick()
        GameTime.on_carla_tick(self.world.get_snapshot().timestamp)


class _quiet:
    """Swallow the behaviour's 'planned …' line (one per draw)."""

    def __enter__(self):
        import contextlib
        import io

        self._redirect = contextlib.redirect_stdout(io.StringIO())
        return self._redirect.__enter__()

    def __exit__(self, *exc):
        return self._redirect.__exit__(*exc)


def default_spec(manoeuvre: str, seed: int) -> AdversarySpec:
    """The manoeuvre with its default parameter ranges and `seed` (as an `<adversary manoeuvre=… seed=…/>`)."""
    chosen = MANOEUVRES[manoeuvre]
    return AdversarySpec(manoeuvre=chosen, ranges=dict(chosen.defaults), seed=seed,
                         where=f"<adversary manoeuvre='{manoeuvre}' seed='{seed}'>")


def summarise(results: list[DrawResult], draws: int) -> dict:
    """Per manoeuvre: rejected shares by cause (over draws) and per ego the collision rate over accepted draws."""
    table: dict[str, dict] = {}
    for manoeuvre in sorted({r.manoeuvre for r in results}):
        rows = [r for r in results if r.manoeuvre == manoeuvre]
        verdicts = {r.seed: r.verdict for r in rows}
        causes = Counter(verdicts.values())
        accepted = causes.get("accepted", 0)
        entry = {"draws": len(verdicts), "accepted": accepted,
                 "rejected_share": {cause: count / len(verdicts) for cause, count in sorted(causes.items())
                                    if cause != "accepted"},
                 "collision_rate": {}, "collisions": {}}
        for ego in sorted({r.ego for r in rows}):
            hits = sum(r.collided for r in rows if r.ego == ego and r.verdict == "accepted")
            entry["collisions"][ego] = hits
            entry["collision_rate"][ego] = hits / accepted if accepted else None
        table[manoeuvre] = entry
    return table


def write_table(results: list[DrawResult], seconds: dict[str, float], path: Path) -> dict:
    """Write the summary (recomputed from every draw) and the draws as JSON; return the summary."""
    summary = summarise(results, 0)
    for manoeuvre, cpu in seconds.items():
        if manoeuvre in summary:
            summary[manoeuvre]["cpu_seconds"] = cpu
    for manoeuvre in summary:
        summary[manoeuvre]["town"] = PLACES[manoeuvre].town
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"summary": summary, "ego_speed_mps": EGO_SPEED_KMH / 3.6, "dt": DT,
                                "cpu_seconds": seconds, "draws": [r.__dict__ for r in results]}, indent=1,
                               default=_plain))
    return summary


def read_tables(paths: list[str]) -> tuple[list[DrawResult], dict[str, float]]:
    """The draws and CPU seconds of tables written by `write_table` (runs split over processes)."""
    results, seconds = [], {}
    for path in paths:
        table = json.loads(Path(path).read_text())
        results += [DrawResult(**row) for row in table["draws"]]
        for manoeuvre, cpu in table.get("cpu_seconds", {}).items():
            seconds[manoeuvre] = seconds.get(manoeuvre, 0.0) + cpu
    return results, seconds


def main(argv: list[str] | None = None) -> int:
    """Run the draws, print a line per manoeuvre and write the table (and every draw) as JSON after each
    manoeuvre; or, with --merge, join tables of runs split over processes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=200, help="seeds first..first+N-1 per manoeuvre")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--manoeuvres", nargs="+", default=list(MANOEUVRES), choices=list(MANOEUVRES))
    parser.add_argument("--egos", nargs="+", default=list(EGO_DRIVERS), choices=list(EGO_DRIVERS))
    parser.add_argument("--json", default="", help="write the summary and the draws here")
    parser.add_argument("--merge", nargs="+", default=[], help="tables to join into --json (no draws are run)")
    args = parser.parse_args(argv)
    if args.merge:
        results, seconds = read_tables(args.merge)
        summary = write_table(results, seconds, Path(args.json))
        for manoeuvre, row in summary.items():
            print(f"{manoeuvre:24s} accepted {row['accepted']:4d}/{row['draws']} rejected {row['rejected_share']} "
                  f"collisions {row['collisions']}")
        return 0
    worlds: dict[str, DrawWorld] = {}
    results: list[DrawResult] = []
    seconds: dict[str, float] = {}
    for manoeuvre in args.manoeuvres:
        place = PLACES[manoeuvre]
        world = worlds.get(place.town) or worlds.setdefault(place.town, DrawWorld(place.town))
        started = time.process_time()
        for seed in range(args.first_seed, args.first_seed + args.draws):
            spec = default_spec(manoeuvre, seed)
            for ego in args.egos:
                result = world.run_draw(place, spec, ego)
                results.append(result)
                if result.verdict != "accepted":
                    break  # the verdict is the same for every ego (all start in the same state)
        seconds[manoeuvre] = round(time.process_time() - started, 1)
        row = summarise([r for r in results if r.manoeuvre == manoeuvre], args.draws)[manoeuvre]
        print(f"{manoeuvre:24s} accepted {row['accepted']:4d}/{row['draws']} rejected {row['rejected_share']} "
              f"collision rate {row['collision_rate']} ({seconds[manoeuvre]} CPU s)", flush=True)
        if args.json:
            write_table(results, seconds, Path(args.json))
    return 0


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value))


if __name__ == "__main__":
    raise SystemExit(main())
