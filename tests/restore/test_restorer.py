"""The diffusion restorer: it learns (loss and validation error fall), saves and loads exactly, samples
deterministically for a seed, and refuses a checkpoint of another resolution, format version or a missing one."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.restore import Restorer
from recon_carla_bridge.restore.config import RestorerConfig
from recon_carla_bridge.restore.pairs import PairSet, RenderPass
from recon_carla_bridge.restore.pipeline import RestorerInput
from recon_carla_bridge.restore.training import TrainOptions, train_restorer

WIDTH, HEIGHT = 40, 16


def tiny_config(**changes) -> RestorerConfig:
    return RestorerConfig(WIDTH, HEIGHT, block_out_channels=(8, 16), norm_num_groups=4, **changes)


def synthetic_pairs(frames: int = 20, seed: int = 0) -> PairSet:
    """Real frames: smooth colour ramps that drift; renders: darker, blurred, with a hole of low alpha."""
    rng = np.random.default_rng(seed)
    columns = np.linspace(0.0, 1.0, WIDTH)[None, :, None]
    rows = np.linspace(0.0, 1.0, HEIGHT)[:, None, None]
    target, degraded, alpha = [], [], []
    for frame in range(frames):
        base = np.concatenate([columns + 0.0 * rows, rows + 0.0 * columns, 0.5 + 0.3 * np.sin(6 * columns + frame / 3) + 0 * rows], axis=2)
        real = np.clip(base + rng.normal(0, 0.01, base.shape), 0, 1)
        render = 0.7 * real
        render[:, 1:-1] = (render[:, :-2] + render[:, 1:-1] + render[:, 2:]) / 3
        hole = np.ones((HEIGHT, WIDTH))
        start = rng.integers(0, WIDTH - 8)
        render[4:10, start:start + 8] = 0.9
        hole[4:10, start:start + 8] = 0.0
        target.append((real * 255).astype(np.uint8))
        degraded.append((render * 255).astype(np.uint8))
        alpha.append((hole * 255).astype(np.uint8))
    pass_ = RenderPass("synthetic", "synthetic.gs", f"0-{frames - 1}")
    return PairSet(np.stack(degraded), np.stack(alpha), np.full((frames, HEIGHT, WIDTH), 20.0, np.float16),
                   np.stack(target), np.zeros(frames, np.int32), np.arange(frames, dtype=np.int32), [pass_])


def randomised(restorer: Restorer, seed: int = 0) -> Restorer:
    """A restorer whose output layer is not zero (a fresh one is the identity), as a trained one."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        restorer.unet.conv_out.weight.copy_(torch.randn(restorer.unet.conv_out.weight.shape, generator=generator) * 0.05)
    return restorer


def frames_of(pairs: PairSet, rows=slice(0, 3)) -> RestorerInput:
    return RestorerInput(torch.from_numpy(pairs.degraded[rows] / np.float32(255)), torch.from_numpy(pairs.alpha[rows] / np.float32(255)),
                         torch.from_numpy(pairs.depth[rows].astype(np.float32)))


def test_training_lowers_the_loss_and_beats_the_raw_render(tmp_path: Path) -> None:
    torch.manual_seed(0)
    pairs = synthetic_pairs()
    metrics = train_restorer(pairs, tiny_config(), TrainOptions(steps=40, batch=4, crop_width=0, lr=3e-3, val_every=5,
                                                                 validate_every=20, device="cpu"), tmp_path, progress=False)
    history = metrics["history"]
    assert history[0]["psnr"] == pytest.approx(history[0]["raw_psnr"])  # an untrained restorer is the identity
    assert history[-1]["loss"] < history[1]["loss"] or history[-1]["psnr"] > history[1]["psnr"]
    assert history[-1]["psnr"] > history[-1]["raw_psnr"] + 1.0, history
    assert (tmp_path / "config.json").is_file() and (tmp_path / "checkpoint" / "optimizer.safetensors").is_file()
    resumed = train_restorer(pairs, tiny_config(), TrainOptions(steps=45, batch=4, crop_width=0, lr=3e-3, val_every=5,
                                                                 validate_every=20, device="cpu"), tmp_path, resume=True, progress=False)
    assert resumed["steps"] == 45 and resumed["history"][0]["step"] == 0  # continued the same run


def test_save_and_load_round_trip_exactly(tmp_path: Path) -> None:
    restorer = randomised(Restorer(tiny_config()))
    restorer.save(tmp_path / "r")
    loaded = Restorer.load(tmp_path / "r", resolution=(WIDTH, HEIGHT))
    assert loaded.config == restorer.config
    for (name, a), (_, b) in zip(restorer.unet.state_dict().items(), loaded.unet.state_dict().items()):
        assert torch.equal(a, b), name
    frames = frames_of(synthetic_pairs())
    assert torch.equal(restorer.restore(frames), loaded.restore(frames))


def test_sampling_is_deterministic_for_a_seed() -> None:
    restorer = randomised(Restorer(tiny_config(timesteps=(399, 199))))  # two steps: noise enters twice
    frames = frames_of(synthetic_pairs())
    first, again, other = restorer.restore(frames, seed=3), restorer.restore(frames, seed=3), restorer.restore(frames, seed=4)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert first.shape == (3, HEIGHT, WIDTH, 3) and float(first.min()) >= 0.0 and float(first.max()) <= 1.0


def test_other_sizes_are_restored_through_a_resize() -> None:
    restorer = randomised(Restorer(tiny_config()))
    big = torch.rand(2, 2 * HEIGHT, 2 * WIDTH, 3)
    with pytest.raises(InputError, match=f"runs at {WIDTH}x{HEIGHT}"):
        restorer.restore(RestorerInput(big))
    restored = restorer.restore_resized(RestorerInput(big))
    assert restored.shape == big.shape and not torch.equal(restored, big)


def test_bad_checkpoints_are_refused_with_the_file_named(tmp_path: Path) -> None:
    folder = Restorer(tiny_config()).save(tmp_path / "r")
    with pytest.raises(InputError, match=f"trained at {WIDTH}x{HEIGHT}, asked for 800x450"):
        Restorer.load(folder, resolution=(800, 450))
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(dict(config, format_version=99)))
    with pytest.raises(InputError, match="format_version"):
        Restorer.load(folder)
    (folder / "config.json").write_text(json.dumps(dict(config, block_out_channels=[16, 32])))
    with pytest.raises(InputError, match="do not fit"):
        Restorer.load(folder)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "restorer.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(InputError, match="restorer.safetensors"):
        Restorer.load(folder)
    with pytest.raises(InputError, match="missing"):
        Restorer.load(tmp_path / "nowhere")


def test_pair_files_round_trip_and_refuse_garbage(tmp_path: Path) -> None:
    pairs = synthetic_pairs(6)
    pairs.save(tmp_path / "p.npz")
    loaded = PairSet.load(tmp_path / "p.npz")
    assert np.array_equal(loaded.target, pairs.target) and loaded.passes == pairs.passes
    assert list(loaded.previous_row()) == [0, 0, 1, 2, 3, 4]
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(InputError, match="bad.npz"):
        PairSet.load(tmp_path / "bad.npz")


def test_train_restorer_command_trains_and_resumes(tmp_path: Path, capsys) -> None:
    from recon_carla_bridge.cli import main

    synthetic_pairs().save(tmp_path / "pairs.npz")
    common = ["train-restorer", "--pairs", str(tmp_path / "pairs.npz"), "--out", str(tmp_path / "r"), "--channels", "8,16",
              "--crop-width", "0", "--val-every", "5", "--validate-every", "2", "--device", "cpu", "--threads", "1"]
    assert main(common + ["--steps", "2"]) == 0
    assert main(common + ["--steps", "4", "--resume"]) == 0
    assert "4 steps" in capsys.readouterr().out
    assert Restorer.load(tmp_path / "r", resolution=(WIDTH, HEIGHT)).config.block_out_channels == (8, 16)
    with pytest.raises(InputError, match="pair file does not exist"):
        main(["train-restorer", "--pairs", str(tmp_path / "none.npz"), "--out", str(tmp_path / "x")])


def test_the_restore_package_imports_no_carla() -> None:
    import subprocess
    import sys

    modules = ", ".join(f"recon_carla_bridge.restore.{m}" for m in ("config", "model", "pipeline", "video", "pairs", "progressive", "training"))
    code = f"import sys; sys.modules['carla'] = None; import {modules}"  # importing carla would now raise
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_video_state_follows_each_camera_and_forgets_old_ones() -> None:
    from recon_carla_bridge.restore.video import VideoRestorer

    video = VideoRestorer(randomised(Restorer(tiny_config())), max_cameras=2)
    frames = frames_of(synthetic_pairs())
    first = video(frames.rgb[:2], frames.alpha[:2], frames.depth[:2], ["a", "b"])
    again = video(frames.rgb[:2], frames.alpha[:2], frames.depth[:2], ["a", "b"])
    assert not torch.equal(first, again)  # the second frame is conditioned on the first's output, not the render
    fresh = VideoRestorer(video.restorer)(frames.rgb[:1], frames.alpha[:1], frames.depth[:1], ["a"])
    assert torch.allclose(fresh[0], first[0], atol=1e-5)  # a camera's first frame: conditioned on its own render
    video(frames.rgb[2:3], frames.alpha[2:3], frames.depth[2:3], ["c"])
    assert list(video._previous) == ["b", "c"]  # noqa: SLF001 - the state itself is what is tested
