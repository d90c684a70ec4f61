"""The batched camera vector: each world's Gaussian set as compose_instances builds it, images equal to the per-env
FrontCamera's, same-step autoreset with rendered final observations, gymnasium's spaces; gsplat's one batched call
equal to per-view renders (CUDA only)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.recon.gaussians import HIDDEN_OPACITY_LOGIT, compose_instances
from recon_carla_bridge.rl.batched_camera import BatchedCameraVectorEnv, camera_view, view_job
from recon_carla_bridge.rl.config import config_from_mapping
from recon_carla_bridge.rl.env import ReconDrivingEnv
from recon_carla_bridge.rl.vector import make_vector_env
from recon_carla_bridge.scene.batched_splat import BatchedSplatRenderer, CameraView
from recon_carla_bridge.scene.scene_world import open_scene_world

KITTI_BRAKE = {"name": "kitti_brake", "scene": "kitti", "ego": [0.0, 0.0, 0.0], "speed": 3.0,
               "adversary": {"manoeuvre": "brake_check", "actor": "ahead", "cruise_speed": 6,
                             "trigger_distance": "10:14", "patience": 10}}


def camera_config(max_steps: int = 8, template: dict = KITTI_BRAKE):
    """A small camera-observation config in the bundled KITTI scene."""
    return config_from_mapping({"env": {"templates": [template], "max_steps": max_steps, "lateral_bins": 21,
                                        "longitudinal_bins": 31, "nearby_actors": 2, "observation": "camera",
                                        "camera_width": 24, "camera_height": 12}}, "batched")


def box_pose(x: float, y: float, yaw: float) -> np.ndarray:
    """A SceneLog world_from_box on the ground near the scene's origin."""
    pose = np.eye(4)
    pose[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
    pose[:3, 3] = (x, y, 0.8)
    return pose


@pytest.fixture(scope="module")
def kitti_world():
    """The bundled KITTI scene's world (CPU Gaussians)."""
    return open_scene_world("kitti", render_backend="cpu")


def test_each_worlds_set_is_what_compose_instances_builds(kitti_world):
    scene = kitti_world.gaussian_scene
    tracks = [track for track, actor in scene.actors.items() if actor.gaussians.count]
    views = [CameraView(np.eye(4), [(tracks[0], box_pose(8, 1, 0.2)), (tracks[1], box_pose(15, -2, 0.0)),
                                    (tracks[0], box_pose(20, 3, 1.0)), (tracks[1], box_pose(4, 4, -0.5))]),
             CameraView(np.eye(4), []),
             CameraView(np.eye(4), [(tracks[2], box_pose(10, 0, 0.1)), (tracks[2], box_pose(12, 3, 0.3))])]
    renderer = BatchedSplatRenderer(scene, 24, 12, 90.0, backend="cpu")
    scene = renderer.scene  # on the CPU: the level of detail the world's 24 x 12 cameras render
    batch = renderer.compose(views)
    background = scene.background.count
    for b, view in enumerate(views):
        rows = torch.arange(b * batch.rows, (b + 1) * batch.rows)
        own, padding = rows[:batch.lengths[b]], rows[batch.lengths[b]:]
        mine = batch.gaussians.select(own)
        expected, _ = compose_instances(scene, view.instances)
        drawn = expected.select(torch.arange(background, expected.count))
        drawn = drawn.select(drawn.opacity_logits > HIDDEN_OPACITY_LOGIT)  # the tracks not drawn are transparent there
        for field in ("means", "quats", "log_scales", "opacity_logits", "sh", "semantic"):
            torch.testing.assert_close(getattr(mine, field), getattr(drawn, field), rtol=0, atol=1e-6)
        assert bool((batch.gaussians.opacity_logits[padding] <= HIDDEN_OPACITY_LOGIT).all())
    sizes = {track: scene.actors[track].gaussians.count for track in tracks[:3]}
    assert batch.lengths == [2 * sizes[tracks[0]] + 2 * sizes[tracks[1]], 0, 2 * sizes[tracks[2]]]
    assert batch.rows == max(batch.lengths)


def test_unknown_track_is_an_input_error_naming_the_view(kitti_world):
    renderer = BatchedSplatRenderer(kitti_world.gaussian_scene, 24, 12, 90.0, backend="cpu")
    with pytest.raises(InputError, match=r"views\[1\].*no_such_track"):
        renderer.compose([CameraView(np.eye(4), []), CameraView(np.eye(4), [("no_such_track", np.eye(4))])])


def test_batched_images_equal_the_front_cameras_and_spaces_hold():
    config, further = camera_config(), camera_config(template={**KITTI_BRAKE, "ego": [15.0, 0.0, 0.0]})
    vector = BatchedCameraVectorEnv([(further, "train", 0), (config, "train", 1)], backend="cpu")
    reference = ReconDrivingEnv(config, seed=1)
    assert vector.single_observation_space == reference.observation_space
    assert vector.action_space.shape == (2, 2)
    observation, _ = vector.reset(seed=[3, 4])
    expected, _ = reference.reset(seed=4)
    assert observation in vector.observation_space
    assert observation["camera"].shape == (2, 12, 24, 3) and observation["camera"].std() > 10
    np.testing.assert_allclose(observation["camera"][1], expected["camera"], atol=1)
    action = np.array([[10, 20], [10, 20]])
    observation, *_ = vector.step(action)
    expected, *_ = reference.step(action[1])
    assert reference._full_decision  # the decision ran to its last tick: both images show that tick
    np.testing.assert_allclose(observation["camera"][1], expected["camera"], atol=1)
    assert np.abs(observation["camera"][0].astype(int) - observation["camera"][1]).mean() > 5  # each its own world
    assert vector.timings["render_calls"] == 2 and vector.timings["frames"] == 4  # one call per step
    vector.close()
    reference.close()


def test_autoreset_renders_the_final_and_the_first_image():
    config = camera_config(max_steps=1)
    vector = BatchedCameraVectorEnv([(config, "train", 0)], backend="cpu")
    first, _ = vector.reset(seed=7)
    observation, _, terminated, truncated, info = vector.step(np.array([[10, 20]]))
    assert truncated[0] or terminated[0]
    assert info["_final_obs"][0] and info["final_obs"][0]["camera"].std() > 10
    assert vector.envs[0].steps == 0  # the next episode's first observation came back at once
    assert observation in vector.observation_space and observation["camera"].std() > 10
    assert np.abs(info["final_obs"][0]["camera"].astype(int) - observation["camera"][0]).mean() > 1  # it moved
    assert vector.timings["frames"] == 3  # reset 1, then final + first in one call
    vector.close()


def test_make_vector_env_picks_the_batched_camera_only_where_it_fits():
    config = camera_config()
    chosen = make_vector_env(config, 1, batched_camera=True)
    assert isinstance(chosen, BatchedCameraVectorEnv) and chosen.envs[0].external_camera
    chosen.close()
    automatic = make_vector_env(config, 1)
    assert isinstance(automatic, BatchedCameraVectorEnv) == torch.cuda.is_available()
    automatic.close()
    town = config_from_mapping({"env": {"templates": [{"name": "town", "scene": "Town04", "ego": [-503.73, 177.59, 90.36]}],
                                        "observation": "camera"}}, "town")
    with pytest.raises(InputError, match="town"):
        make_vector_env(town, 1, batched_camera=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="gsplat's batched rasterization needs CUDA")
@pytest.mark.parametrize("tile_size", [16, 8])
def test_one_gsplat_call_equals_per_view_renders(tile_size):
    from recon_carla_bridge.recon.render import render
    from recon_carla_bridge.scene.splat_backend import encode_on_device

    config = camera_config()
    vector = BatchedCameraVectorEnv([(config, "train", i) for i in range(3)], backend="gsplat")
    vector.reset(seed=0)
    vector.step(np.array([[10, 20]] * 3))
    views = [camera_view(env) for env in vector.envs]
    views.append(CameraView(views[0].world_from_camera, list(views[0].instances) * 2))  # every track drawn twice
    scene = vector.renderer_for(view_job(vector.envs[0])[0]).scene
    renderer = BatchedSplatRenderer(scene, 64, 32, config.env.camera_fov, "gsplat", tile_size=tile_size)
    batched = renderer.render(views)
    for b, view in enumerate(views):
        output = render(renderer.scene, renderer.cameras([view]), view.instances, backend="gsplat", ground=renderer.ground)
        single = encode_on_device(output, "rgb", [0])[0].cpu().numpy()[..., 2::-1]
        assert np.abs(batched[b].astype(int) - single).max() <= 2
    vector.close()


def test_worlds_in_worker_processes_give_the_same_steps():
    config = camera_config()
    recipes = [(config, "train", 0), (config, "train", 1)]
    here, spread = BatchedCameraVectorEnv(recipes, backend="cpu"), BatchedCameraVectorEnv(recipes, backend="cpu", processes=2)
    try:
        first_here, _ = here.reset(seed=11)
        first_spread, _ = spread.reset(seed=11)
        assert all(np.array_equal(first_here[key], first_spread[key]) for key in first_here)
        action = np.array([[10, 20], [12, 25]])
        stepped_here, reward_here, *_ = here.step(action)
        stepped_spread, reward_spread, *_ = spread.step(action)
        assert all(np.array_equal(stepped_here[key], stepped_spread[key]) for key in stepped_here)
        np.testing.assert_array_equal(reward_here, reward_spread)
        assert [m.shape for m in spread.call("action_masks")] == [(21, 31)] * 2
        assert spread.get_attr("steps") == (1, 1) and spread.envs == []  # the worlds live in the two workers
    finally:
        here.close()
        spread.close()


def test_pipelined_chunks_give_the_same_steps_as_one_batch():
    config = camera_config(max_steps=2)
    recipes = [(config, "train", i) for i in range(3)]
    plain = BatchedCameraVectorEnv(recipes, backend="cpu", view_lod=True)
    piped = BatchedCameraVectorEnv(recipes, backend="cpu", processes=2, view_lod=True, pipeline_chunks=2)
    try:
        first_plain, _ = plain.reset(seed=5)
        first_piped, _ = piped.reset(seed=5)
        assert all(np.array_equal(first_plain[key], first_piped[key]) for key in first_plain)
        ended = 0
        for action in (np.array([[10, 20], [12, 25], [8, 30]]), np.array([[11, 20], [10, 22], [9, 28]])) * 2:
            got_plain, reward_plain, term_plain, trunc_plain, info_plain = plain.step(action)
            got_piped, reward_piped, term_piped, trunc_piped, info_piped = piped.step(action)
            assert all(np.array_equal(got_plain[key], got_piped[key]) for key in got_plain)
            np.testing.assert_array_equal(reward_plain, reward_piped)
            np.testing.assert_array_equal(term_plain | trunc_plain, term_piped | trunc_piped)
            for i in np.flatnonzero(info_plain.get("_final_obs", np.zeros(3, dtype=bool))):
                ended += 1
                np.testing.assert_array_equal(info_plain["final_obs"][i]["camera"], info_piped["final_obs"][i]["camera"])
        assert ended >= 3  # episodes of 2 decisions: every env ended and reset within the steps above
        assert piped.timings["render_calls"] == 1 + 2 * 4 and piped.timings["frames"] == plain.timings["frames"]
    finally:
        plain.close()
        piped.close()
