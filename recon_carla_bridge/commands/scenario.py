"""`recon-carla scenario`: ScenarioRunner's command line on the server-less world."""
from __future__ import annotations

import argparse
import json
import sys


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
                        help="stop each run after this many simulated seconds (scenarios like FreeRide never end)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--summary", default="", help="also write a machine-readable summary JSON here")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the scenarios; exit code 0 when every criterion passed, 1 when one failed, 2 on bad input."""
    from recon_carla_bridge.errors import ReconCarlaError
    from recon_carla_bridge.scenario.runner import ScenarioRunner, ScenarioRunSettings, list_scenarios

    examples = tuple(args.examplesDir) if args.examplesDir else None
    try:
        if args.list:
            print(*list_scenarios(examples, args.configFile), sep="\n")
            return 0
        settings = ScenarioRunSettings(
            scenario=args.scenario, config_file=args.configFile, openscenario=args.openscenario,
            openscenario_params=args.openscenarioparams, route=tuple(args.route or ()), agent=args.agent,
            agent_config=args.agentConfig, output=args.output, file=args.file, junit=args.junit, json=args.json,
            output_dir=args.outputDir, repetitions=args.repetitions, randomize=args.randomize, debug=args.debug,
            frame_rate=args.frameRate, timeout=args.timeout, map_dirs=tuple(args.mapDir) if args.mapDir else None,
            examples_dirs=examples, traffic_manager_port=args.trafficManagerPort,
            traffic_manager_seed=args.trafficManagerSeed, max_sim_time=args.maxSimTime,
        )
        runner = ScenarioRunner(settings)
        success = runner.run()
    except ReconCarlaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as handle_out:
            json.dump([vars(outcome) for outcome in runner.outcomes], handle_out, indent=2, default=str)
    for outcome in runner.outcomes:
        if outcome.error:
            print(f"scenario {outcome.name} failed to run: {outcome.error}", file=sys.stderr)
    return 0 if success else 1
