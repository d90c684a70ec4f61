"""`Restorer`: the diffusion restorer of splat renders (a UNet and a scheduler from `model`, a config from `config`).

Input: the degraded render (RGB, and where the config says so its alpha and depth) and the previous restored
frame of the same camera. Output: the restored frame. This makes it a video restorer in the simplest causal
form: each frame is conditioned, by channel concatenation, on the restorer's own output for the previous frame of
that camera (`VideoState` keeps it per camera), so what it fills in where the splats are missing stays put from
frame to frame instead of being re-invented; the first frame of a camera is conditioned on its own render
(`video.VideoRestorer` keeps that state per camera).

Sampling (`restore`): 1-4 denoising steps at the config's explicit timesteps. The first step starts from the
degraded render noised to timesteps[0] (Difix-style single-step image-to-image; one step is the default and the
speed anchor); the network predicts a residual over the degraded render, read as the clean sample; further steps
re-noise that estimate to the next timestep (DDPM's posterior, seeded) and predict again. Training
(`training_loss`) draws one of the same timesteps per sample: the first from the degraded render, the later
ones from the real frame, exactly as sampling reaches them.

Files: DIR/config.json (`RestorerConfig.to_json`: format, format version, resolution, architecture) and
DIR/restorer.safetensors (the UNet's weights, no pickle).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.paths import chmod_like_new_file
from recon_carla_bridge.restore.config import RestorerConfig
from recon_carla_bridge.restore.model import build_scheduler, build_unet, pad_to_multiple

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "restorer.safetensors"
DEPTH_RANGE_M = (0.5, 1000.0)  # depth is fed as log depth scaled to [-1, 1] over this range


class RestorerInput(NamedTuple):
    """A batch of B frames to restore, at the restorer's resolution.

    Attributes:
        rgb: [B, H, W, 3] float in [0, 1], the splat render.
        alpha: [B, H, W] float in [0, 1], its accumulated opacity (None: treated as fully covered).
        depth: [B, H, W] float metres (None: treated as far).
        previous: [B, H, W, 3] float in [0, 1], the previous restored frame of each camera (None: the render).
    """

    rgb: torch.Tensor
    alpha: torch.Tensor | None = None
    depth: torch.Tensor | None = None
    previous: torch.Tensor | None = None


def _signed(images: torch.Tensor) -> torch.Tensor:
    """[B, H, W, C] in [0, 1] -> [B, C, H, W] in [-1, 1]."""
    return images.permute(0, 3, 1, 2) * 2.0 - 1.0


def _depth_channel(depth: torch.Tensor) -> torch.Tensor:
    near, far = DEPTH_RANGE_M
    scaled = (torch.log(depth.clamp(near, far)) - math.log(near)) / (math.log(far) - math.log(near))
    return scaled[:, None] * 2.0 - 1.0


class Restorer:
    """A trained (or freshly built) restorer on one device."""

    def __init__(self, config: RestorerConfig, device: str | torch.device = "cpu"):
        self.config = config
        self.device = torch.device(device)
        self.unet = build_unet(config).to(self.device)
        self.unet.eval()
        self.scheduler = build_scheduler(config)

    def conditioning(self, frames: RestorerInput, any_size: bool = False) -> torch.Tensor:
        """[B, condition_channels, H, W] in [-1, 1]: degraded RGB, alpha, log depth, previous RGB (as configured);
        InputError for frames of another size than the restorer's unless `any_size` (training crops)."""
        rgb = frames.rgb.to(self.device, torch.float32)
        if rgb.ndim != 4 or rgb.shape[-1] != 3:
            raise InputError(f"restorer: rgb must be [B, H, W, 3], got {list(rgb.shape)}")
        if not any_size and (rgb.shape[2], rgb.shape[1]) != (self.config.width, self.config.height):
            raise InputError(f"restorer: frames are {rgb.shape[2]}x{rgb.shape[1]}, this restorer runs at "
                             f"{self.config.width}x{self.config.height} (use restore_resized for other sizes)")
        parts = [_signed(rgb)]
        shape = rgb.shape[:3]
        if self.config.use_alpha:
            alpha = torch.ones(shape, device=self.device) if frames.alpha is None else frames.alpha.to(self.device, torch.float32)
            parts.append(alpha[:, None] * 2.0 - 1.0)
        if self.config.use_depth:
            depth = torch.full(shape, DEPTH_RANGE_M[1], device=self.device) if frames.depth is None else frames.depth.to(self.device, torch.float32)
            parts.append(_depth_channel(depth))
        if self.config.use_previous:
            previous = rgb if frames.previous is None else frames.previous.to(self.device, torch.float32)
            parts.append(_signed(previous))
        return torch.cat(parts, dim=1)

    def _predict(self, noisy: torch.Tensor, condition: torch.Tensor, timestep: int) -> torch.Tensor:
        """The clean-sample estimate [B, 3, H, W] in [-1, 1] at `timestep`: degraded + the UNet's residual."""
        stacked, (height, width) = pad_to_multiple(torch.cat([noisy, condition], dim=1), self.config.multiple)
        steps = torch.full((noisy.shape[0],), timestep, device=self.device, dtype=torch.long)
        residual = self.unet(stacked, steps).sample[..., :height, :width]
        return (condition[:, :3] + residual).clamp(-1.0, 1.0)

    @torch.no_grad()
    def restore(self, frames: RestorerInput, seed: int = 0) -> torch.Tensor:
        """[B, H, W, 3] restored frames in [0, 1] (deterministic for a seed on a given device)."""
        condition = self.conditioning(frames)
        generator = torch.Generator(device=self.device).manual_seed(seed)
        degraded = condition[:, :3]
        noise = torch.randn(degraded.shape, generator=generator, device=self.device)
        timesteps = list(self.config.timesteps)
        sample = self.scheduler.add_noise(degraded, noise, torch.tensor([timesteps[0]]))
        estimate = degraded
        for timestep in timesteps:
            estimate = self._predict(sample, condition, timestep)
            sample = self.scheduler.step(estimate, timestep, sample, generator=generator).prev_sample
        return ((estimate + 1.0) / 2.0).permute(0, 2, 3, 1).clamp(0.0, 1.0)

    def restore_resized(self, frames: RestorerInput, seed: int = 0) -> torch.Tensor:
        """`restore` for frames of any size: they are area-resized to the restorer's resolution, restored, and
        the correction (restored - resized render) is resized back and added to the full-size render."""
        rgb = frames.rgb.to(self.device, torch.float32)
        size = (self.config.height, self.config.width)
        if tuple(rgb.shape[1:3]) == size:
            return self.restore(frames, seed)

        def down(images: torch.Tensor | None, channels_last: bool) -> torch.Tensor | None:
            if images is None:
                return None
            batch = images.to(self.device, torch.float32)
            batch = batch.permute(0, 3, 1, 2) if channels_last else batch[:, None]
            small = F.interpolate(batch, size=size, mode="area")
            return small.permute(0, 2, 3, 1) if channels_last else small[:, 0]

        small_rgb = down(rgb, True)
        assert small_rgb is not None
        previous = frames.previous
        if previous is not None and tuple(previous.shape[1:3]) != size:
            previous = down(previous, True)
        restored = self.restore(RestorerInput(small_rgb, down(frames.alpha, False), down(frames.depth, False), previous), seed)
        correction = F.interpolate((restored - small_rgb).permute(0, 3, 1, 2), size=tuple(rgb.shape[1:3]), mode="bilinear",
                                   align_corners=False).permute(0, 2, 3, 1)
        return (rgb + correction).clamp(0.0, 1.0)

    def training_loss(self, frames: RestorerInput, target: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """0.8 L1 + 0.2 (1 - SSIM) of the clean-sample estimate against `target` ([B, H, W, 3] in [0, 1]) at one of
        the config's timesteps per sample: the first step from the noised render, later ones from the noised target
        (frames of any size: training may use crops)."""
        from recon_carla_bridge.recon.metrics import ssim

        condition = self.conditioning(frames, any_size=True)
        clean = _signed(target.to(self.device, torch.float32))
        batch = clean.shape[0]
        timesteps = torch.tensor(self.config.timesteps, device=self.device)
        pick = torch.randint(len(timesteps), (batch,), generator=generator, device=generator.device).to(self.device)
        start = torch.where((pick == 0)[:, None, None, None], condition[:, :3], clean)
        noise = torch.randn(clean.shape, generator=generator, device=generator.device).to(self.device)
        noisy = self.scheduler.add_noise(start, noise, timesteps[pick].cpu())
        estimates = [self._predict(noisy[i:i + 1], condition[i:i + 1], int(timesteps[pick[i]])) for i in range(batch)] \
            if len(timesteps) > 1 else [self._predict(noisy, condition, int(timesteps[0]))]
        estimate = torch.cat(estimates)
        restored = ((estimate + 1.0) / 2.0).permute(0, 2, 3, 1)
        target01 = target.to(self.device, torch.float32)
        return 0.8 * (restored - target01).abs().mean() + 0.2 * (1.0 - ssim(restored, target01))

    def save(self, directory: str | os.PathLike[str], metadata: dict[str, str] | None = None) -> Path:
        """Write config.json and restorer.safetensors into `directory` (created); returns it."""
        from safetensors.torch import save_file

        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        weights = {name: tensor.detach().cpu().contiguous() for name, tensor in self.unet.state_dict().items()}
        save_file(weights, str(target / WEIGHTS_FILE), metadata={str(k): str(v) for k, v in (metadata or {}).items()})
        chmod_like_new_file(target / WEIGHTS_FILE)  # safetensors writes it 0600
        (target / CONFIG_FILE).write_text(json.dumps(self.config.to_json(), indent=1), encoding="utf-8")
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike[str], device: str | torch.device = "cpu",
             resolution: tuple[int, int] | None = None) -> Restorer:
        """A restorer saved by `save`; InputError naming the file when it is missing, of another format version, of
        another `resolution` ((width, height), when given) or its weights do not fit its config."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        source = Path(directory)
        config_file, weights_file = source / CONFIG_FILE, source / WEIGHTS_FILE
        for needed in (config_file, weights_file):
            if not needed.is_file():
                raise InputError(f"{needed}: restorer file missing (a restorer folder holds {CONFIG_FILE} and {WEIGHTS_FILE})")
        try:
            document = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InputError(f"{config_file}: not valid JSON ({error})") from None
        config = RestorerConfig.from_json(document, str(config_file))
        if resolution is not None and tuple(resolution) != (config.width, config.height):
            raise InputError(f"{config_file}: the restorer was trained at {config.width}x{config.height}, "
                             f"asked for {resolution[0]}x{resolution[1]}")
        try:
            weights = load_file(str(weights_file))
        except (SafetensorError, OSError, ValueError) as error:
            raise InputError(f"{weights_file}: unreadable safetensors file ({error})") from None
        restorer = cls(config, device)
        try:
            restorer.unet.load_state_dict(weights, strict=True)
        except RuntimeError as error:
            first = str(error).splitlines()[0]
            raise InputError(f"{weights_file}: weights do not fit {config_file} ({first})") from None
        return restorer

