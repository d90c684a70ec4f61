"""`recon-carla scenario`: ScenarioRunner's command line on the server-less world."""
from __future__ import annotations

import argparse
import difflib
import json
import signal
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

FREE_RIDE_DEFAULT_SECONDS = 20.0  # simulated s a never-ending FreeRide runs without --maxSimTime


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `scenario` sub-command (options named as in scenario_runner.py)."""
    parser = subparsers.add_parser(
        "scenario", help="run ScenarioRunner scenarios (XML, OpenSCENARIO, routes) without a CARLA server",
        description="Runs the real ScenarioRunner code on the server-less world. Options mirror scenario_runner.py.")
    parser.add_argument("--scenario", help="scenario name (or group:TYPE) from the configuration XMLs, e.g. FollowLeadingVehicle_1")
    parser.add_argument("--configFile", default="", help="scenario configuration XML (default: search --examplesDir)")
    parser.add_argument("--examplesDir", action="append", default=None,
                        help="folder of scenario XMLs searched without --configFile (repeatable; default: "
                             "../shared/data/scenario_runner/examples and scenarios/)")
    parser.add_argument("--openscenario", help="an OpenSCENARIO 1.0 file (.xosc)")
    parser.add_argument("--openscenarioparams", help="overrides of ParameterDeclarations, 'name:value,…'")
    parser.add_argument("--route", nargs="+", metavar="FILE", help="routes XML, scenarios JSON, and optionally a route id")
    parser.add_argument("--agent", default="basic",
                        help="ego driver: 'basic' (CARLA's BasicAgent, default), 'none', or an agent .py file")
    parser.add_argument("--agentConfig", default="", help="configuration file passed to the agent's setup()")
    parser.add_argument("--output", action="store_true", help="print the criteria table")
    parser.add_argument("--file", action="store_true", help="write results into a txt file")
    parser.add_argument("--junit", action="store_true", help="write results into a JUnit file")
    parser.add_argument("--json", action="store_true", help="write results into a JSON file")
    parser.add_argument("--outputDir", default="", help="folder for result files")
    parser.add_argument("--repetitions", type=int, default=1, help="number of runs of each scenario")
    parser.add_argument("--randomize", action="store_true", help="randomize scenario parameters")
    parser.add_argument("--debug", action="store_true", help="print the behaviour tree every tick")
    parser.add_argument("--frameRate", type=float, default=20.0, help="simulation steps per simulated second")
    parser.add_argument("--timeout", type=float, default=10.0, help="watchdog timeout in seconds")
    parser.add_argument("--trafficManagerPort", type=int, default=8000)
    parser.add_argument("--trafficManagerSeed", type=int, default=0)
    parser.add_argument("--mapDir", action="append", default=None, help="folder of <Town>.xodr maps (repeatable)")
    parser.add_argument("--maxSimTime", type=float, default=None,
                        help="stop each run after this many simulated seconds (default for FreeRide scenarios, "
                             f"which never end: {FREE_RIDE_DEFAULT_SECONDS:g})")
    parser.add_argument("--list", action="store_true", help="list the scenarios with their towns and exit")
    parser.add_argument("--summary", default="", help="also write a machine-readable summary JSON here")
    parser.set_defaults(func=handle)


@dataclass(frozen=True)
class ScenarioEntry:
    """One <scenario> of a configuration XML: its name, type, town and file."""

    name: str
    type: str
    town: str
    file: str


def scenario_entries(examples: tuple[str, ...] | None, config_file: str) -> list[ScenarioEntry]:
    """Every scenario of the configuration files `--list` and `--scenario` search, with its type and town."""
    from recon_carla_bridge.scenario.runner import list_scenarios, scenario_config_files

    list_scenarios(examples, config_file)  # InputError naming a malformed file
    files = [config_file] if config_file else scenario_config_files(examples)
    return [ScenarioEntry(element.get("name", ""), element.get("type", ""), element.get("town", ""), path)
            for path in files for element in ET.parse(path).getroot().iter("scenario")]


def _listing(entries: list[ScenarioEntry]) -> list[str]:
    """'name  type  town' lines, the town marked when no map or scene of that name is found here."""
    from recon_carla_bridge.scene.scene_world import place_exists

    width = max((len(entry.name) for entry in entries), default=0)
    type_width = max((len(entry.type) for entry in entries), default=0)
    lines = [f"{'scenario':<{width}}  {'type':<{type_width}}  town"]
    for entry in entries:
        town = entry.town if place_exists(entry.town) else f"{entry.town} (no map here)"
        lines.append(f"{entry.name:<{width}}  {entry.type:<{type_width}}  {town}")
    return lines


def _check_scenario_name(name: str, entries: list[ScenarioEntry]) -> None:
    """InputError with the closest names when `name` is no scenario of `entries` ('group:TYPE' passes)."""
    from recon_carla_bridge.errors import InputError

    if ":" in name or any(entry.name == name for entry in entries):
        return
    names = sorted({entry.name for entry in entries})
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `recon-carla scenario --list` shows them all"
    raise InputError(f"scenario '{name}' not found in {len({e.file for e in entries})} configuration file(s){hint}")


def _max_sim_time(args: argparse.Namespace, entries: list[ScenarioEntry]) -> float | None:
    """--maxSimTime, or FREE_RIDE_DEFAULT_SECONDS (announced) when the chosen scenario is a never-ending FreeRide."""
    if args.maxSimTime is not None or not args.scenario:
        return args.maxSimTime
    chosen = [entry for entry in entries if entry.name == args.scenario]
    if chosen and all(entry.type == "FreeRide" for entry in chosen):
        print(f"recon-carla: {args.scenario} is a FreeRide scenario, which never ends: stopping it after "
              f"{FREE_RIDE_DEFAULT_SECONDS:g} simulated seconds (--maxSimTime to change)", flush=True)
        return FREE_RIDE_DEFAULT_SECONDS
    return None


@contextmanager
def stop_on_interrupt(runner: Any) -> Iterator[None]:
    """A first Ctrl-C ends the running scenario as scenario_runner.py does (its results are kept) and starts no
    other; a second one (or one while nothing runs) aborts."""

    def on_interrupt(signum: int, frame: Any) -> None:
        if runner.stop_requested or not runner.manager.get_running_status():
            raise KeyboardInterrupt
        runner.stop_requested = True
        print("\nrecon-carla: Ctrl-C: stopping the running scenario and keeping its results "
              "(Ctrl-C again to abort)", file=sys.stderr, flush=True)
        runner.manager.stop_scenario()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def handle(args: argparse.Namespace) -> int:
    """Run the scenarios; exit code 0 when every criterion passed, 1 when one failed, 2 on bad input,
    130 when aborted by Ctrl-C."""
    from recon_carla_bridge.errors import ReconCarlaError
    from recon_carla_bridge.scenario.runner import ScenarioRunner, ScenarioRunSettings

    examples = tuple(args.examplesDir) if args.examplesDir else None
    runner = None
    try:
        if args.list:
            print(*_listing(scenario_entries(examples, args.configFile)), sep="\n")
            return 0
        by_name = bool(args.scenario) and not args.openscenario and not args.route
        entries = scenario_entries(examples, args.configFile) if by_name else []
        max_sim_time = _max_sim_time(args, entries)
        settings = ScenarioRunSettings(
            scenario=args.scenario, config_file=args.configFile, openscenario=args.openscenario,
            openscenario_params=args.openscenarioparams, route=tuple(args.route or ()), agent=args.agent,
            agent_config=args.agentConfig, output=args.output, file=args.file, junit=args.junit, json=args.json,
            output_dir=args.outputDir, repetitions=args.repetitions, randomize=args.randomize, debug=args.debug,
            frame_rate=args.frameRate, timeout=args.timeout, map_dirs=tuple(args.mapDir) if args.mapDir else None,
            examples_dirs=examples, traffic_manager_port=args.trafficManagerPort,
            traffic_manager_seed=args.trafficManagerSeed, max_sim_time=max_sim_time,
        )
        runner = ScenarioRunner(settings)  # checks the agent first
        if by_name:
            _check_scenario_name(args.scenario, entries)
        with stop_on_interrupt(runner):
            success = runner.run()
    except ReconCarlaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if runner is not None:
            runner.manager.stop_scenario()  # the watchdog thread would keep the process alive
        done = len(runner.outcomes) if runner is not None else 0
        print(f"recon-carla: interrupted; {done} finished run(s) kept", file=sys.stderr)
        return 130
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as handle_out:
            json.dump([vars(outcome) for outcome in runner.outcomes], handle_out, indent=2, default=str)
    for outcome in runner.outcomes:
        if outcome.error:
            print(f"scenario {outcome.name} failed to run: {outcome.error}", file=sys.stderr)
    return 0 if success else 1
