"""The camera student: a sensor-legal observation (no other actor's state), checkpoints tied to its layout, and
DAgger distillation that changes it and resumes."""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import carla
import numpy as np
import pytest
import torch

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.rl.checkpoint import interface_of, load_checkpoint, policy_for, save_checkpoint
from recon_carla_bridge.rl.config import config_from_mapping
from recon_carla_bridge.rl.distill import DistillSettings, STUDENT_DATA, load_student_config, train_student
from recon_carla_bridge.rl.env import ReconDrivingEnv
from recon_carla_bridge.rl.evaluation import student_driver
from recon_carla_bridge.rl.student import (STUDENT_LAYOUT, sensor_state, student_interface, student_observation,
                                           student_slots)
from recon_carla_bridge.paths import REPO_ROOT

from tests.rl.conftest import tiny_mapping


def _camera_config(tmp_path: Path):
    mapping = tiny_mapping(str(tmp_path / "run"))
    mapping["env"].update(observation="camera", max_steps=3)
    return config_from_mapping(mapping, "tiny camera")


def _step_once(config, draw, add_car: bool) -> tuple[dict, dict]:
    env = ReconDrivingEnv(config)
    env.reset(options={"draw": draw})
    if add_car:  # a parked car 12 m straight ahead of the ego: seen by the camera and by the privileged state
        ego = env.runner.ego.get_transform()
        yaw = math.radians(ego.rotation.yaw)
        ahead = carla.Transform(carla.Location(ego.location.x + 12 * math.cos(yaw), ego.location.y + 12 * math.sin(yaw),
                                               ego.location.z + 0.1), ego.rotation)
        env.runner.world.spawn_actor(env.runner.world.get_blueprint_library().find("vehicle.tesla.model3"), ahead)
    observation, *_ = env.step(np.array([env.grid.lateral_bins // 2, 4]))
    seen = student_observation(observation, student_slots(env.layout))
    env.close()
    return observation, seen


def test_another_car_changes_only_the_students_image(tmp_path: Path) -> None:
    config = _camera_config(tmp_path)
    draw = ReconDrivingEnv(config)._sampler.draw()
    plain_full, plain = _step_once(config, draw, add_car=False)
    car_full, car = _step_once(config, draw, add_car=True)
    assert not np.array_equal(plain_full["state"], car_full["state"])  # the privileged state sees the car
    np.testing.assert_array_equal(plain["state"], car["state"])  # the student's state does not
    assert np.abs(plain["camera"].astype(int) - car["camera"].astype(int)).sum() > 0  # its camera does
    assert set(plain) == {"state", "camera"} and len(plain["state"]) == len(STUDENT_LAYOUT)
    assert not any(name.startswith("actor") for name in STUDENT_LAYOUT)


def test_sensor_state_matches_the_env_slots(tmp_path: Path) -> None:
    config = _camera_config(tmp_path)
    env = ReconDrivingEnv(config)
    observation, _ = env.reset(seed=1)
    observation, *_ = env.step(np.array([env.grid.lateral_bins // 2, 10]))
    ego = env.ego_state
    from_sensors = sensor_state(ego.speed, ego.acceleration, ego.yaw_rate, ego.xy, ego.yaw, ego.last_action, env.path,
                                env.target_speed)
    np.testing.assert_allclose(from_sensors, student_observation(observation, student_slots(env.layout))["state"],
                               atol=1e-6)
    env.close()


def test_a_checkpoint_of_another_layout_is_a_clear_error(tmp_path: Path) -> None:
    config = _camera_config(tmp_path)
    env = ReconDrivingEnv(config)
    interface = student_interface(env)
    teacher_path = tmp_path / "teacher.pt"
    save_checkpoint(teacher_path, policy_for(interface_of(env), 16), interface_of(env), 16, config={})
    with pytest.raises(InputError, match="state layout differs"):
        load_checkpoint(teacher_path, interface)
    with pytest.raises(InputError, match="not a camera student checkpoint"):
        student_driver(load_checkpoint(teacher_path)[0], env.layout, interface_of(env), "rl")
    smaller = dict(interface, images={"camera": [3, 16, 32]})
    student_path = tmp_path / "student.pt"
    save_checkpoint(student_path, policy_for(smaller, 16), smaller, 16, config={})
    with pytest.raises(InputError, match="images differs"):
        load_checkpoint(student_path, interface)
    env.close()


def test_distillation_changes_the_student_and_resumes(tmp_path: Path) -> None:
    config = _camera_config(tmp_path)
    env = ReconDrivingEnv(config)
    teacher = tmp_path / "teacher.pt"
    torch.manual_seed(5)
    save_checkpoint(teacher, policy_for(interface_of(env), 16), interface_of(env), 16, config={})
    interface = student_interface(env)
    env.close()
    distill = DistillSettings(teacher=str(teacher), iterations=1, episodes_per_iteration=1, epochs=2, batch_size=4)
    torch.manual_seed(config.train.seed)
    untrained = policy_for(interface, config.train.hidden)
    path = train_student(config, distill, progress=False)
    student, data = load_checkpoint(path, interface)
    assert data["stage"] == "student" and data["iteration"] == 1 and data["interface"]["sensors"]
    changed = [name for name, value in student.state_dict().items()
               if not torch.equal(value, untrained.state_dict()[name])]
    assert any(name.startswith("encoders.camera") for name in changed) and any("lateral" in n for n in changed)
    with np.load(path.parent / STUDENT_DATA) as first:
        count = len(first["lateral"])
        assert count > 0 and first["state"].shape[1] == len(STUDENT_LAYOUT) and first["camera"].shape[1:] == (32, 64, 3)
    path = train_student(config, dataclasses.replace(distill, iterations=2), resume=True, progress=False)
    assert load_checkpoint(path, interface)[1]["iteration"] == 2
    with np.load(path.parent / STUDENT_DATA) as both:
        assert len(both["lateral"]) > count  # iteration 2 aggregated onto iteration 1's data
    rows = [json.loads(line) for line in (path.parent / "student_curve.jsonl").read_text().splitlines()]
    assert [row["iteration"] for row in rows] == [1, 2] and rows[1]["beta"] == 0.5


def test_student_config_is_validated(tmp_path: Path) -> None:
    config, distill = load_student_config(REPO_ROOT / "configs" / "rl" / "camera_student.yaml")
    assert config.env.observation == "camera" and distill.labels in ("teacher", "expert")
    assert distill.teacher.endswith("daa_teacher_rl.pt")
    bad = tmp_path / "bad.yaml"
    text = (REPO_ROOT / "configs" / "rl" / "camera_student.yaml").read_text()
    bad.write_text(text.replace(f"labels: {distill.labels}", "labels: oracle"))
    with pytest.raises(InputError, match="distill.labels"):
        load_student_config(bad)
    bad.write_text(text.replace("observation: camera", "observation: privileged"))
    with pytest.raises(InputError, match="env.observation must be camera"):
        load_student_config(bad)


def test_train_eval_scores_a_student_next_to_a_privileged_policy(tmp_path: Path) -> None:
    from recon_carla_bridge.rl.evaluation import evaluate, policy_driver, with_student_camera

    privileged = config_from_mapping({**tiny_mapping(str(tmp_path / "run")),
                                      "env": {**tiny_mapping()["env"], "max_steps": 2}}, "tiny")
    env = ReconDrivingEnv(_camera_config(tmp_path))
    interface = student_interface(env)
    env.close()
    student_path = tmp_path / "student.pt"
    save_checkpoint(student_path, policy_for(interface, 16), interface, 16, config={"env": {"camera_fov": 90.0}})
    student, data = load_checkpoint(student_path)
    config = with_student_camera(privileged, data)
    assert config.env.observation == "camera" and (config.env.camera_width, config.env.camera_height) == (64, 32)
    env = ReconDrivingEnv(config)
    teacher = policy_for(interface_of(env) | {"images": {}}, 16)
    drivers = {"rl": policy_driver(teacher), "student": student_driver(student, env.layout, data["interface"])}
    env.close()
    results = evaluate(config, drivers, episodes=2, seed=0)
    assert [(e["template"], e["seed"]) for e in results["rl"]["episodes"]] == \
        [(e["template"], e["seed"]) for e in results["student"]["episodes"]]  # the same held-out draws
    for name in drivers:
        assert {"CR", "DCR", "SCR", "DR", "PDR", "HDR", "ADD", "route_completion"} <= set(results[name]["summary"])


def _teacher_preferring(env: ReconDrivingEnv, order: float):
    """A privileged teacher whose most likely feasible longitudinal anchor is the shortest (order -1) or the longest
    (order +1) one the car can drive."""
    teacher = policy_for(interface_of(env), 16)
    with torch.no_grad():
        teacher.longitudinal.weight.zero_()
        teacher.longitudinal.bias.copy_(order * torch.arange(env.grid.longitudinal_bins, dtype=torch.float32))
    return teacher.eval()


def test_crawl_guard_replaces_only_a_slower_teacher_longitudinal_label(tiny_config) -> None:
    from recon_carla_bridge.rl.distill import Labeller
    from recon_carla_bridge.rl.expert import expert_anchor
    env = ReconDrivingEnv(tiny_config)
    observation, _ = env.reset(seed=3)
    expert = expert_anchor(env)
    slow = _teacher_preferring(env, -1.0)  # brakes as hard as it can: shorter than the expert on a free road
    plain, guarded = Labeller(slow)(env, observation), Labeller(slow, guard_speed=100.0)
    label = guarded(env, observation)
    assert plain[1] < expert[1]
    assert label == (plain[0], expert[1]) and guarded.guarded == guarded.labelled == 1
    below = Labeller(slow, guard_speed=1e-3)  # the car drives faster than the guard: the teacher's label stays
    assert below(env, observation) == plain and below.guarded == 0
    fast = _teacher_preferring(env, 1.0)  # longer than the expert: never shortened
    assert Labeller(fast, guard_speed=100.0)(env, observation) == Labeller(fast)(env, observation)
    env.close()


def test_distillation_starts_from_the_init_students_weights(tmp_path: Path) -> None:
    config = _camera_config(tmp_path)
    env = ReconDrivingEnv(config)
    interface = student_interface(env)
    env.close()
    torch.manual_seed(11)
    start = policy_for(interface, config.train.hidden)
    init = tmp_path / "init.pt"
    save_checkpoint(init, start, interface, config.train.hidden, config={})
    distill = DistillSettings(labels="expert", init=str(init), iterations=1, episodes_per_iteration=1, epochs=0)
    student, _ = load_checkpoint(train_student(config, distill, progress=False), interface)
    assert all(torch.equal(value, start.state_dict()[name]) for name, value in student.state_dict().items())
    fresh, _ = load_checkpoint(train_student(config, dataclasses.replace(distill, init=""), progress=False), interface)
    assert not all(torch.equal(value, start.state_dict()[name]) for name, value in fresh.state_dict().items())


def test_rl_student_config_fine_tunes_the_expert_student_on_the_teachers_templates() -> None:
    config, distill = load_student_config(REPO_ROOT / "configs" / "rl" / "camera_student_rl.yaml")
    expert_student, _ = load_student_config(REPO_ROOT / "configs" / "rl" / "camera_student.yaml")
    from recon_carla_bridge.rl.config import load_rl_config
    privileged = load_rl_config(REPO_ROOT / "configs" / "rl" / "daa_teacher.yaml")
    assert [t.name for t in config.env.templates] == [t.name for t in privileged.env.templates]
    assert distill.labels == "teacher" and distill.crawl_guard_speed > 0
    assert (REPO_ROOT / distill.init).exists() and distill.init.endswith("camera_student.pt")
    assert config.env.camera_width == expert_student.env.camera_width and config.env.observation == "camera"
