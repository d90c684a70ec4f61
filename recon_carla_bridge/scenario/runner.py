"""Run ScenarioRunner scenarios (XML configs, OpenSCENARIO, routes) on the server-less world.

Mirrors `scenario_runner.py`: the real srunner code parses the configuration, builds the scenario's
behaviour tree, and `ScenarioManager` ticks it; our `Client` stands in for the server.
"""
from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import carla

from recon_carla_bridge.compat_imports import install_srunner_alias
from recon_carla_bridge.errors import InputError, ReconCarlaError
from recon_carla_bridge.scenario import input_checks

install_srunner_alias()

BUILTIN_AGENTS = ("basic", "none")


@dataclass(frozen=True)
class ScenarioRunSettings:
    """What to run and how (the scenario_runner.py options that apply without a server)."""

    scenario: str | None = None  # scenario name or group in the config XMLs (e.g. FollowLeadingVehicle_1)
    config_file: str = ""  # extra scenario configuration XML
    openscenario: str | None = None  # an OpenSCENARIO 1.0 file
    openscenario_params: str | None = None  # 'name:value,…' overrides of ParameterDeclarations
    route: tuple[str, ...] = ()  # (routes.xml, scenarios.json[, route id])
    agent: str = "basic"  # 'basic' (BasicAgent), 'none', or a path to an agent .py file
    agent_config: str = ""  # passed to the agent's setup()
    output: bool = False  # print the criteria table
    file: bool = False  # write results as a .txt
    junit: bool = False  # write results as JUnit XML
    json: bool = False  # write results as JSON
    output_dir: str = ""  # folder for result files
    repetitions: int = 1
    randomize: bool = False
    debug: bool = False
    frame_rate: float = 20.0  # Hz, sets fixed_delta_seconds
    timeout: float = 10.0  # s, the watchdog of ScenarioManager
    map_dirs: tuple[str, ...] | None = None
    examples_dirs: tuple[str, ...] | None = None  # where scenario XMLs are looked up without --configFile
    traffic_manager_port: int = 8000
    traffic_manager_seed: int = 0
    max_sim_time: float | None = None  # s of simulated time after which a run is stopped (FreeRide never ends)


@dataclass
class ScenarioOutcome:
    """Result of one scenario run."""

    name: str
    success: bool
    criteria: list[dict[str, Any]] = field(default_factory=list)
    game_duration: float = 0.0  # s of simulated time
    system_duration: float = 0.0  # s of wall time
    error: str = ""


class ScenarioRunner:
    """The ScenarioRunner main loop on our world."""

    def __init__(self, settings: ScenarioRunSettings):
        import recon_carla_bridge

        self.settings = settings
        self.client = recon_carla_bridge.Client(map_dirs=list(settings.map_dirs) if settings.map_dirs else None,
                                                seed=settings.traffic_manager_seed)
        self.client.set_timeout(settings.timeout)
        self.world: carla.World | None = None
        self.ego_vehicles: list[carla.Actor] = []
        self.agent_class = self._load_agent_class(settings.agent)
        from recon_carla_bridge.scenario.agent_wrapper import ReconScenarioManager

        self.manager = ReconScenarioManager(settings.debug, True, settings.timeout)
        self.outcomes: list[ScenarioOutcome] = []
        self.stop_requested = False  # set by a Ctrl-C: finish the running scenario, start no other

    # ---- agents ------------------------------------------------------------------------------
    @staticmethod
    def _load_agent_class(agent: str) -> type | None:
        if agent == "none":
            return None
        if agent == "basic":
            from recon_carla_bridge.scenario.ego_agents import BasicAgentEgo

            return BasicAgentEgo
        path = Path(agent)
        if not path.is_file():
            raise InputError(f"--agent {agent}: no such agent file (or use one of {', '.join(BUILTIN_AGENTS)})")
        from recon_carla_bridge.leaderboard import install_leaderboard_alias

        install_leaderboard_alias()
        module_name = path.stem
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise InputError(f"--agent {agent}: cannot be imported as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            raise InputError(f"--agent {agent}: importing it raised {type(error).__name__}: {error}") from error
        if hasattr(module, "get_entry_point"):
            class_name = module.get_entry_point()
        else:  # scenario_runner.py's convention: my_agent.py defines MyAgent
            class_name = module_name.title().replace("_", "")
        agent_class = getattr(module, class_name, None)
        if not inspect.isclass(agent_class):
            raise InputError(f"--agent {agent}: no agent class '{class_name}' (define get_entry_point() returning its name)")
        return agent_class

    # ---- world -------------------------------------------------------------------------------
    def _load_world(self, town: str) -> None:
        from srunner.scenariomanager.carla_data_provider import CarlaDataProvider

        self.world = self.client.load_world(town)
        settings = self.world.get_settings()
        settings.synchronous_mode = True
        settings.fixed_delta_seconds = 1.0 / self.settings.frame_rate
        self.world.apply_settings(settings)
        CarlaDataProvider.set_client(self.client)
        CarlaDataProvider.set_world(self.world)
        CarlaDataProvider.set_traffic_manager_port(self.settings.traffic_manager_port)
        traffic_manager = self.client.get_trafficmanager(self.settings.traffic_manager_port)
        traffic_manager.set_synchronous_mode(True)
        traffic_manager.set_random_device_seed(self.settings.traffic_manager_seed)
        self.world.tick()
        if CarlaDataProvider.get_map().name.split("/")[-1] != town.split("/")[-1]:
            raise RuntimeError(f"the world uses the wrong map: {CarlaDataProvider.get_map().name} instead of {town}")

    def _prepare_ego_vehicles(self, ego_configs: list) -> None:
        from srunner.scenariomanager.carla_data_provider import CarlaDataProvider

        self.ego_vehicles = []
        for vehicle in ego_configs:
            self.ego_vehicles.append(
                CarlaDataProvider.request_new_actor(vehicle.model, vehicle.transform, vehicle.rolename,
                                                    color=vehicle.color, actor_category=vehicle.category))
        self.world.tick()

    def _cleanup(self) -> None:
        from srunner.scenariomanager.carla_data_provider import CarlaDataProvider

        try:
            self.manager.cleanup()
        except Exception:  # cleanup must not hide the run's own error
            traceback.print_exc()
        CarlaDataProvider.cleanup()
        self.ego_vehicles = []

    # ---- running -----------------------------------------------------------------------------
    def run(self) -> bool:
        """Run what the settings ask for; True when every scenario passed all its criteria."""
        if self.settings.openscenario:
            configs = [self._openscenario_config()]
        elif self.settings.route:
            configs = self._route_configs()
        elif self.settings.scenario:
            configs = self._xml_configs()
        else:
            raise InputError("nothing to run: give --scenario NAME, --openscenario FILE or --route FILES")
        for config in configs:
            for _ in range(max(1, self.settings.repetitions)):
                if self.stop_requested:
                    break
                self.outcomes.append(self._load_and_run(config))
        return all(outcome.success for outcome in self.outcomes)

    def _xml_configs(self) -> list:
        import os

        from srunner.tools.scenario_parser import ScenarioConfigurationParser

        files = [self.settings.config_file] if self.settings.config_file else scenario_config_files(self.settings.examples_dirs)
        if not files:
            raise InputError("no scenario configuration files: pass --configFile or --examplesDir")
        # srunner also globs $SCENARIO_RUNNER_ROOT/srunner/examples; we pass every file explicitly instead.
        os.environ["SCENARIO_RUNNER_ROOT"] = str(Path(__file__).resolve().parent / "no_srunner_root")
        configs = []
        for path in files:
            _check_xml(path)
            try:
                parsed = ScenarioConfigurationParser.parse_scenario_configuration(self.settings.scenario, path)
            except Exception as error:
                raise InputError(f"scenario configuration {path}: {type(error).__name__}: {error}") from error
            input_checks.check_scenario_configs(parsed, path)
            for config in parsed:
                config.source_file = path  # scenarios with their own XML elements (the DAA's <adversary>) read it
            configs += parsed
        if not configs:
            where = ", ".join(files) if len(files) < 4 else f"{len(files)} files in {', '.join(sorted({str(Path(f).parent) for f in files}))}"
            raise InputError(f"scenario '{self.settings.scenario}' not found in {where}")
        return configs

    def _openscenario_config(self) -> Any:
        from srunner.scenarioconfigs.openscenario_configuration import OpenScenarioConfiguration

        from recon_carla_bridge.compat_imports import install_openscenario_schema

        from recon_carla_bridge.scenario import osc_conditions, osc_dates, osc_road_positions

        install_openscenario_schema()
        osc_dates.install()
        osc_road_positions.install()
        osc_conditions.install()
        path = Path(self.settings.openscenario)
        if not path.is_file():
            raise InputError(f"--openscenario {path}: no such file")
        _reject_openscenario_2(path)
        _check_xml(str(path))
        params = input_checks.openscenario_parameters(path, self.settings.openscenario_params)
        try:
            return OpenScenarioConfiguration(str(path), self.client, params)
        except Exception as error:
            raise InputError(f"{path}: {type(error).__name__}: {error}") from error

    def _route_configs(self) -> list:
        from srunner.tools.route_parser import RouteParser

        route_file, scenario_file, single_route = input_checks.check_route_arguments(self.settings.route)
        _check_xml(route_file)
        try:
            configs = RouteParser.parse_routes_file(route_file, scenario_file, single_route)
        except Exception as error:
            raise InputError(f"{route_file}: {type(error).__name__}: {error}") from error
        leaderboard_2_layout = "<position" in Path(route_file).read_text(encoding="utf-8", errors="replace")
        for config in configs:
            if leaderboard_2_layout and not getattr(config, "trajectory", None):
                raise InputError(f"{route_file}: route {config.name} has no <waypoint> elements; srunner 0.9.11 reads "
                                 "leaderboard-1.0 route files (<waypoint x= y= z=/>), not the <waypoints><position> "
                                 "of leaderboard 2.0 (run those with recon-carla evaluate)")
        input_checks.check_route_configs(configs, route_file, single_route)
        return configs

    def _build_scenario(self, config: Any) -> Any:
        if self.settings.openscenario:
            from srunner.scenarios.open_scenario import OpenScenario

            return OpenScenario(world=self.world, ego_vehicles=self.ego_vehicles, config=config,
                                config_file=self.settings.openscenario, timeout=100000)
        if self.settings.route:
            from srunner.scenarios.route_scenario import RouteScenario

            return RouteScenario(world=self.world, config=config, debug_mode=self.settings.debug)
        scenario_class = _scenario_class(config.type)
        return scenario_class(self.world, self.ego_vehicles, config, self.settings.randomize, self.settings.debug)

    def _load_and_run(self, config: Any) -> ScenarioOutcome:
        name = getattr(config, "name", "scenario")

        try:
            self._load_world(config.town)
            agent = None
            if not self.settings.route:
                input_checks.check_egos_on_road(self.world.get_map(), config)
                self._prepare_ego_vehicles(config.ego_vehicles)
            if self.agent_class is not None:
                from srunner.tools.route_manipulation import interpolate_trajectory

                from recon_carla_bridge.scenario.ego_agents import DEFAULT_DRIVE_DISTANCE_M, lane_route

                trajectory = getattr(config, "trajectory", None) if self.settings.route else None
                if trajectory:
                    gps_route, route = interpolate_trajectory(self.world, trajectory)
                else:  # no route given: the ego's own lane ahead, as a plan for the agent
                    gps_route, route = lane_route(self.world, self.ego_vehicles[0].get_location(), DEFAULT_DRIVE_DISTANCE_M)
                agent = _build_agent(self.agent_class, self.settings.agent_config, gps_route, route)
                if self.settings.route:
                    config.agent = agent
            scenario = self._build_scenario(config)
            if self.settings.route:
                self.ego_vehicles = scenario.ego_vehicles
        except (InputError, KeyboardInterrupt):
            self._cleanup()
            raise
        except Exception as error:  # this scenario cannot run; the others still do
            if not isinstance(error, ReconCarlaError):
                traceback.print_exc()
            self._cleanup()
            return ScenarioOutcome(name, False, error=f"{type(error).__name__}: {error}")
        try:
            self.manager.load_scenario(scenario, agent)
            stop_id = self._arm_time_limit()
            self.manager.run_scenario()
            if stop_id is not None:
                self.world.remove_on_tick(stop_id)
            outcome = self._analyze(config, scenario)
            scenario.remove_all_actors()
        except Exception as error:
            destroyed = [ego.id for ego in self.ego_vehicles if not ego.is_alive]
            if destroyed:  # srunner's own behaviours can do it (ActorSink removes every actor near its sink)
                message = (f"the ego vehicle (id {destroyed[0]}) was destroyed by the scenario's own behaviour at simulated time "
                           f"{self.world.get_snapshot().timestamp.elapsed_seconds:.2f} s")
            else:
                traceback.print_exc()
                message = f"{type(error).__name__}: {error}"
            outcome = ScenarioOutcome(name, False, error=message)
            # run_scenario did not reach its end: stop srunner's watchdog thread or the process hangs
            self.manager._watchdog.stop()
            self.manager._running = False
        finally:
            self._cleanup()
        return outcome

    def _arm_time_limit(self) -> int | None:
        """Stop the scenario after max_sim_time simulated seconds, as a user's Ctrl-C would."""
        limit = self.settings.max_sim_time
        if limit is None:
            return None
        start = self.world.get_snapshot().timestamp.elapsed_seconds

        def stop_when_due(snapshot: Any) -> None:
            if snapshot.timestamp.elapsed_seconds - start >= limit and self.manager.get_running_status():
                print(f"recon-carla: stopping the scenario after {limit:g} s of simulated time (--maxSimTime)")
                self.manager.stop_scenario()

        return self.world.on_tick(stop_when_due)

    def _analyze(self, config: Any, scenario: Any) -> ScenarioOutcome:
        stamp = datetime.now().strftime("%Y-%m-%d-%H-%M-%S")
        base = str(Path(self.settings.output_dir) / config.name) if self.settings.output_dir else config.name
        if self.settings.output_dir:
            Path(self.settings.output_dir).mkdir(parents=True, exist_ok=True)
        junit = base + stamp + ".xml" if self.settings.junit else None
        json_file = base + stamp + ".json" if self.settings.json else None
        text_file = base + stamp + ".txt" if self.settings.file else None
        failed = self.manager.analyze_scenario(self.settings.output, text_file, junit, json_file)
        if not failed:
            print("All scenario tests were passed successfully!")
        else:
            print("Not all scenario tests were successful")
            if not (self.settings.output or text_file or junit):
                print("Please run with --output for further information")
        criteria = [
            {"name": c.name, "actor": getattr(c.actor, "type_id", ""), "test_status": c.test_status,
             "actual_value": c.actual_value, "expected_value": c.expected_value_success}
            for c in self.manager.scenario.get_criteria()
        ]
        return ScenarioOutcome(config.name, not failed, criteria, self.manager.scenario_duration_game,
                               self.manager.scenario_duration_system)


def _build_agent(agent_class: type, config: str, gps_route: list, route: list) -> Any:
    """Instantiate an agent and give it its route: leaderboard agents as their generation does
    (1.0: constructor runs setup; 2.0: (host, port, debug), plan, then setup), srunner agents as srunner."""
    try:
        from recon_carla_bridge.leaderboard.agent_host import build_agent
        from recon_carla_bridge.leaderboard.api.autoagents.autonomous_agent import AutonomousAgent as LeaderboardAgent
    except ImportError:  # pragma: no cover - the leaderboard package ships with this one
        LeaderboardAgent = ()  # type: ignore[assignment]
    if LeaderboardAgent and issubclass(agent_class, LeaderboardAgent):
        return build_agent(agent_class, config, gps_route, route)
    agent = agent_class(config)
    if route:
        agent.set_global_plan(gps_route, route)
    return agent


def default_examples_dirs() -> list[Path]:
    """Scenario XML folders searched by default: ScenarioRunner's examples in the shared data, and ours."""
    from recon_carla_bridge.paths import REPO_ROOT, shared_data_dir

    dirs = [shared_data_dir() / "scenario_runner" / "examples", REPO_ROOT / "scenarios"]
    return [d for d in dirs if d.is_dir()]


def scenario_config_files(examples_dirs: tuple[str, ...] | None = None) -> list[str]:
    """Every scenario configuration XML (files with <scenarios> roots) in the example folders."""
    import xml.etree.ElementTree as ET

    dirs = [Path(d) for d in examples_dirs] if examples_dirs else default_examples_dirs()
    files = []
    for folder in dirs:
        for path in sorted(folder.glob("*.xml")):
            try:
                root = ET.parse(path).getroot()
            except ET.ParseError:
                files.append(str(path))  # reported with its position when parsed
                continue
            if root.tag == "scenarios":
                files.append(str(path))
    return files


def list_scenarios(examples_dirs: tuple[str, ...] | None = None, config_file: str = "") -> list[str]:
    """Names of every scenario in the configuration files, as `scenario_runner.py --list` prints them."""
    import xml.etree.ElementTree as ET

    files = [config_file] if config_file else scenario_config_files(examples_dirs)
    names = []
    for path in files:
        _check_xml(path)
        names += [s.get("name", "") for s in ET.parse(path).getroot().iter("scenario")]
    return names


OSC2_KEYWORDS = ("import", "scenario", "actor", "struct", "enum", "modifier", "extend", "global", "type", "unit")


def _reject_openscenario_2(path: Path) -> None:
    """InputError for an OpenSCENARIO 2.0 file (.osc, a DSL, not XML): ScenarioRunner 0.9.11 reads 1.0 only."""
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4000]
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error})") from None
    code = [line.strip() for line in head.splitlines() if line.strip() and not line.strip().startswith("#")]
    first_word = code[0].split()[0].rstrip(":") if code else ""
    if path.suffix.lower() == ".osc" or (not head.lstrip().startswith("<") and first_word in OSC2_KEYWORDS):
        raise InputError(f"{path}: OpenSCENARIO 2.0 (.osc) is not supported: ScenarioRunner 0.9.11 runs "
                         "OpenSCENARIO 1.0 files (.xosc, XML); convert the scenario to OpenSCENARIO 1.0")


def _check_xml(path: str) -> None:
    """InputError naming the file and the position when an XML file is malformed."""
    import xml.etree.ElementTree as ET

    try:
        ET.parse(path)
    except ET.ParseError as error:
        raise InputError(f"{path}: malformed XML ({error})") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error})") from None


def _scenario_class(scenario_type: str) -> type:
    """The srunner scenario class of a config 'type' (searching srunner.scenarios.*)."""
    import importlib
    import pkgutil

    import scenarios as srunner_scenarios

    from recon_carla_bridge.adversary.scenarios import SCENARIO_CLASSES

    if scenario_type in SCENARIO_CLASSES:
        return SCENARIO_CLASSES[scenario_type]

    for module_info in pkgutil.iter_modules(srunner_scenarios.__path__):
        module = importlib.import_module(f"srunner.scenarios.{module_info.name}")
        candidate = getattr(module, scenario_type, None)
        if inspect.isclass(candidate):
            return candidate
    raise InputError(f"scenario type '{scenario_type}' is not implemented by srunner")
