"""Loading an agent file, building the agent (1.0 or 2.0 constructor), and calling it under a deadline."""
from __future__ import annotations

import contextlib
import importlib.util
import inspect
import math
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import carla

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.leaderboard.alias import install_leaderboard_alias
from recon_carla_bridge.leaderboard.api.autoagents.agent_wrapper import AgentError
from recon_carla_bridge.leaderboard.api.autoagents.autonomous_agent import (
    PLAN_SAMPLE_DISTANCE_V1,
    PLAN_SAMPLE_DISTANCE_V2,
    AutonomousAgent,
)


class AgentTimeout(AgentError):
    """The agent did not return within its time budget."""


def load_agent_module(path: Path | str) -> ModuleType:
    """Import an agent file with `leaderboard.*` aliased; InputError when it is missing or cannot be imported."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: agent file not found")
    if path.suffix != ".py":
        raise InputError(f"{path}: an agent file must be a Python file (.py)")
    install_leaderboard_alias()
    from recon_carla_bridge.compat_imports import install_srunner_alias

    install_srunner_alias()
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_name = f"recon_agent_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except Exception as error:
        del sys.modules[module_name]
        raise InputError(f"{path}: importing the agent failed: {type(error).__name__}: {error}") from error
    if not callable(getattr(module, "get_entry_point", None)):
        raise InputError(f"{path}: the agent file must define get_entry_point() returning the agent class name")
    class_name = module.get_entry_point()
    agent_class = getattr(module, str(class_name), None)
    if not inspect.isclass(agent_class):
        raise InputError(f"{path}: get_entry_point() returned {class_name!r}, which is not a class in the file")
    if not issubclass(agent_class, AutonomousAgent):
        raise InputError(f"{path}: {class_name} must derive from leaderboard.autoagents.autonomous_agent.AutonomousAgent")
    return module


def agent_class_of(module: ModuleType) -> type:
    """The agent class `get_entry_point()` names."""
    return getattr(module, module.get_entry_point())


def uses_legacy_constructor(agent_class: type) -> bool:
    """True when the class's own `__init__` takes one argument (leaderboard 1.0's `path_to_conf_file`)."""
    init = agent_class.__init__
    if init is AutonomousAgent.__init__:
        return False
    parameters = [p for p in inspect.signature(init).parameters.values()
                  if p.name != "self" and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in parameters if p.default is p.empty]
    return len(required) == 1


def plan_sample_distance(route_format: str) -> float:
    """Metres between the global plan's points for a route file of `route_format` ('1.0' or '2.0'):
    the distance that generation's `AutonomousAgent.set_global_plan` keeps."""
    return PLAN_SAMPLE_DISTANCE_V1 if route_format == "1.0" else PLAN_SAMPLE_DISTANCE_V2


def build_agent(agent_class: type, config_path: str, global_plan_gps: list, global_plan: list,
                sample_distance: float | None = None) -> AutonomousAgent:
    """Construct and set up the agent the way its constructor's leaderboard generation does, and give it the
    route down-sampled every `sample_distance` m (the route file's generation decides; None: the constructor's)."""
    if uses_legacy_constructor(agent_class):
        agent = agent_class(config_path)  # 1.0: the constructor runs setup()
        if sample_distance is not None:
            agent._plan_sample_distance = sample_distance
        agent.set_global_plan(global_plan_gps, global_plan)
    else:
        agent = agent_class("localhost", 2000, False)  # 2.0: plan first, then setup()
        if sample_distance is not None:
            agent._plan_sample_distance = sample_distance
        agent.set_global_plan(global_plan_gps, global_plan)
        agent.setup(config_path)
    return agent


class AgentExited(AgentError):
    """The agent called sys.exit or raised KeyboardInterrupt itself: its route fails, the evaluation goes on."""


@contextlib.contextmanager
def agent_exits_contained(what: str) -> Iterator[None]:
    """Turn an agent's `sys.exit()` or its own `KeyboardInterrupt` inside the block into AgentExited.

    A real Ctrl-C of the user (SIGINT while the block runs) still stops the evaluation: the handler installed
    here notes that the signal came and lets the KeyboardInterrupt through."""
    interrupted = threading.Event()
    previous = None
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        previous = signal.getsignal(signal.SIGINT)

        def _user_interrupt(signum: int, frame: Any) -> None:
            if previous == signal.SIG_IGN:
                return
            interrupted.set()
            if callable(previous):
                previous(signum, frame)
            raise KeyboardInterrupt

        signal.signal(signal.SIGINT, _user_interrupt)
    try:
        yield
    except SystemExit as error:
        raise AgentExited(f"{what} called sys.exit({error.code!r})") from None
    except KeyboardInterrupt:
        if interrupted.is_set() or not in_main:
            raise
        raise AgentExited(f"{what} raised KeyboardInterrupt (not a Ctrl-C of the user)") from None
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def deadline(seconds: float, what: str) -> Iterator[None]:
    """Raise AgentTimeout inside the block after `seconds` of wall time (main thread only; elsewhere unbounded).

    The agent's own sys.exit/KeyboardInterrupt become AgentExited (agent_exits_contained)."""
    with agent_exits_contained(what), _timer(seconds, what):
        yield


@contextlib.contextmanager
def _timer(seconds: float, what: str) -> Iterator[None]:
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _expired(signum: int, frame: Any) -> None:
        raise AgentTimeout(f"{what} did not return within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_control(control: Any) -> carla.VehicleControl:
    """The control if it is a finite `carla.VehicleControl` (values clamped to CARLA's ranges), else AgentError."""
    if not isinstance(control, carla.VehicleControl):
        raise AgentError(f"run_step returned {type(control).__name__}, not carla.VehicleControl")
    for name in ("throttle", "steer", "brake"):
        value = getattr(control, name)
        if not math.isfinite(value):
            raise AgentError(f"run_step returned a control with {name}={value}")
    control.throttle = min(max(control.throttle, 0.0), 1.0)
    control.brake = min(max(control.brake, 0.0), 1.0)
    control.steer = min(max(control.steer, -1.0), 1.0)
    control.manual_gear_shift = False
    return control


def sensor_mount(spec: dict[str, Any]) -> tuple[dict[str, str], carla.Transform]:
    """Blueprint attributes and mounting transform of a sensor spec, as leaderboard 2.0 sets them (an extra
    'sensor_tick' key, s, is passed through)."""
    kind = spec["type"]
    attributes: dict[str, str] = {}
    if kind == "sensor.camera.rgb":
        attributes = {"image_size_x": str(spec["width"]), "image_size_y": str(spec["height"]), "fov": str(spec["fov"])}
    elif kind == "sensor.lidar.ray_cast":
        attributes = {"range": "85", "rotation_frequency": "10", "channels": "64", "upper_fov": "10",
                      "lower_fov": "-30", "points_per_second": "600000", "atmosphere_attenuation_rate": "0.004",
                      "dropoff_general_rate": "0.45", "dropoff_intensity_limit": "0.8", "dropoff_zero_intensity": "0.4"}
    elif kind == "sensor.other.radar":
        attributes = {"horizontal_fov": str(spec["horizontal_fov"]), "vertical_fov": str(spec["vertical_fov"]),
                      "points_per_second": "1500", "range": "100"}
    elif kind == "sensor.other.gnss":
        attributes = {f"noise_{k}_{s}": v for k in ("alt", "lat", "lon")
                      for s, v in (("stddev", "0.000005"), ("bias", "0.0"))}
    elif kind == "sensor.other.imu":
        attributes = {f"noise_{k}": "0.001" for k in ("accel_stddev_x", "accel_stddev_y", "gyro_stddev_x",
                                                        "gyro_stddev_y", "gyro_stddev_z")}
        attributes["noise_accel_stddev_z"] = "0.015"
    if "sensor_tick" in spec:
        attributes["sensor_tick"] = str(spec["sensor_tick"])
    location = carla.Location(float(spec.get("x", 0)), float(spec.get("y", 0)), float(spec.get("z", 0)))
    rotation = carla.Rotation() if kind == "sensor.other.gnss" else carla.Rotation(
        pitch=float(spec.get("pitch", 0)), roll=float(spec.get("roll", 0)), yaw=float(spec.get("yaw", 0)))
    return attributes, carla.Transform(location, rotation)


class AgentSensors:
    """An agent's sensors on its vehicle: real sensors spawned on the ego and the leaderboard's pseudo-sensors
    (speedometer, OpenDRIVE map), all delivering into one `SensorInterface` (`callback_for(spec, sensor)`
    wraps each, by default the leaderboard's `CallBack`)."""

    def __init__(self, world: Any, ego: Any, specs: list[dict[str, Any]], sensor_interface: Any, frequency: float,
                 callback_for: Callable[[dict[str, Any], Any], Callable[[Any], None]] | None = None) -> None:
        """Mount every spec on `ego` (pseudo-sensors tick at `frequency` Hz)."""
        from recon_carla_bridge.leaderboard.api.envs.sensor_interface import CallBack, OpenDriveMapReader, SpeedometerReader

        self.actors: list[Any] = []
        self.readers: list[Any] = []
        library = world.get_blueprint_library()
        for spec in specs:
            kind = spec["type"]
            if kind == "sensor.speedometer":
                sensor: Any = SpeedometerReader(ego, frequency)
                self.readers.append(sensor)
            elif kind == "sensor.opendrive_map":
                sensor = OpenDriveMapReader(ego, frequency, opendrive=world.get_map().to_opendrive())
                self.readers.append(sensor)
            else:
                attributes, transform = sensor_mount(spec)
                blueprint = library.find(kind)
                for key, value in attributes.items():
                    if blueprint.has_attribute(key):
                        blueprint.set_attribute(key, value)
                sensor = world.spawn_actor(blueprint, transform, attach_to=ego)
                self.actors.append(sensor)
            sensor.listen(callback_for(spec, sensor) if callback_for is not None
                          else CallBack(spec["id"], kind, sensor, sensor_interface))

    def tick(self, frame: int, elapsed_seconds: float) -> None:
        """Feed the pseudo-sensors this tick's frame and time."""
        for reader in self.readers:
            reader.tick(frame, elapsed_seconds)

    def destroy(self) -> None:
        """Stop and destroy every sensor (a destroyed one is skipped)."""
        for reader in self.readers:
            reader.destroy()
        for sensor in reversed(self.actors):
            try:
                sensor.stop()
                sensor.destroy()
            except RuntimeError:
                pass
        self.actors, self.readers = [], []


def register_hero(world: Any, ego: Any, route: list[tuple[carla.Transform, Any]]) -> None:
    """Tell srunner's CarlaDataProvider the world, the hero and its route (as the leaderboard's RouteScenario
    does: scenarios and agents read them), forgetting the actors of a previous world."""
    from recon_carla_bridge.compat_imports import install_srunner_alias

    install_srunner_alias()
    from srunner.scenariomanager.carla_data_provider import CarlaDataProvider

    for cache in (CarlaDataProvider._carla_actor_pool, CarlaDataProvider._actor_velocity_map,
                  CarlaDataProvider._actor_location_map, CarlaDataProvider._actor_transform_map):
        cache.clear()  # actors of the previous route's world
    CarlaDataProvider.set_world(world)
    CarlaDataProvider.set_ego_vehicle_route([(t.location, option) for t, option in route])
    CarlaDataProvider.register_actor(ego)
    CarlaDataProvider._carla_actor_pool[ego.id] = ego  # what get_hero_actor() searches
