"""The episode loop on a bundled map: reset, step and close from outside, callbacks in order, a time limit."""
from __future__ import annotations

import carla
import pytest

import recon_carla_bridge
from recon_carla_bridge.episode import EpisodeCallback, EpisodeRunner, EpisodeTask, TimeLimit


class Calls(EpisodeCallback):
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def on_episode_start(self, runner: EpisodeRunner) -> None:
        self.calls.append(("start", runner.frame))

    def on_step_start(self, runner: EpisodeRunner, control: carla.VehicleControl) -> None:
        self.calls.append(("step_start", runner.frame))

    def on_step_end(self, runner: EpisodeRunner) -> str | None:
        self.calls.append(("step_end", runner.frame))
        return None

    def on_episode_end(self, runner: EpisodeRunner, reason: str) -> None:
        self.calls.append((f"end: {reason}", runner.frame))


def _task() -> EpisodeTask:
    world = recon_carla_bridge.Client(town="StraightRoad").get_world()
    start = world.get_map().get_spawn_points()[0]
    return EpisodeTask(world, start=start, name="straight")


def test_an_episode_stepped_from_outside_drives_and_ends_at_its_time_limit() -> None:
    calls = Calls()
    runner = EpisodeRunner([calls, TimeLimit(1.0)], frame_rate=20.0)
    task = _task()
    sensors = [{"type": "sensor.speedometer", "id": "speed"}]
    observation = runner.reset(task, seed=1, sensors=sensors)
    assert observation.time == 0.0 and set(observation.input_data) == {"speed"}
    start_x = observation.transform.location.x
    steps, result = 0, None
    while result is None or not result.done:
        result = runner.step(carla.VehicleControl(throttle=0.6))
        steps += 1
    assert steps == 20 and result.reason == "time limit (1 s)"  # 20 ticks of 0.05 s
    assert result.observation.input_data["speed"][1]["speed"] > 1.0  # the sensor data follow the drive
    assert abs(result.observation.transform.location.x - start_x) > 0.5  # it moved (from rest, ~2 m/s²)
    with pytest.raises(RuntimeError, match="over"):
        runner.step(carla.VehicleControl())
    runner.close()
    names = [name for name, _ in calls.calls]
    assert names[0] == "start" and names[1] == "step_end"  # reset observes once
    assert names[2:-1] == ["step_start", "step_end"] * 20
    assert names[-1] == "end: time limit (1 s)"
    assert not [a for a in task.world.get_actors().filter("vehicle.*")]  # the runner's ego is gone


def test_a_failing_sensor_function_leaves_nothing_behind() -> None:
    runner = EpisodeRunner()
    task = _task()

    def broken() -> list:
        raise ValueError("agent setup failed")

    with pytest.raises(ValueError, match="agent setup failed"):
        runner.reset(task, sensors=broken)
    assert not [a for a in task.world.get_actors() if a.type_id.startswith(("vehicle", "sensor"))]
