"""Scene bundles carry the reconstruction's refined ego trajectory, and refuse a scene trained on another log."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.recon.scene_file import save_scene
from recon_carla_bridge.scene.bundle import bundle_document, load_scene_bundle

from .synthetic import random_scene, write_synthetic_log


def _refined(log, shift: float = 0.05) -> torch.Tensor:
    poses = torch.as_tensor(np.stack([f.world_from_ego for f in log.frames]), dtype=torch.float64).clone()
    poses[:, 1, 3] += shift
    return poses


def test_bundle_takes_the_scenes_refined_ego_trajectory(tmp_path: Path) -> None:
    log = write_synthetic_log(tmp_path / "log", width=16, height=12)
    logged = np.stack([f.world_from_ego for f in log.frames])
    plain = bundle_document(tmp_path / "log")
    assert np.allclose(plain["world_from_ego"], logged)
    refined = _refined(log)
    save_scene(dataclasses.replace(random_scene(20, 1), ego_poses=refined), tmp_path / "log" / "scene.gs")
    document = bundle_document(tmp_path / "log", tmp_path / "log" / "scene.gs")
    assert np.allclose(document["world_from_ego"], refined.numpy(), atol=0, rtol=0)
    json.dumps(document)  # plain JSON
    # a SceneLog folder with its trained scene next to scene.json opens with the refined trajectory too
    (tmp_path / "log" / "road.xodr").write_text("<OpenDRIVE/>", encoding="utf-8")  # not read here
    assert np.allclose(load_scene_bundle(tmp_path / "log").world_from_ego, refined.numpy())


def test_scene_trained_on_another_log_is_refused(tmp_path: Path) -> None:
    log = write_synthetic_log(tmp_path / "log", width=16, height=12)
    save_scene(dataclasses.replace(random_scene(20, 1), ego_poses=_refined(log)[:4]), tmp_path / "other.gs")
    with pytest.raises(InputError, match="other.gs: its refined ego trajectory has 4 poses"):
        bundle_document(tmp_path / "log", tmp_path / "other.gs")
