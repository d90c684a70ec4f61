"""The restorer's network and noise schedule, built from a `RestorerConfig` with diffusers.

Model and scheduler are kept apart as diffusers keeps them: `build_unet` makes a `UNet2DModel` whose input is
the noisy sample stacked with the conditioning channels (channel concatenation, as in image-to-image diffusion
restorers), `build_scheduler` a `DDPMScheduler` that predicts the clean sample ("sample" prediction) and runs the
explicitly chosen timesteps; `pipeline.Restorer` joins them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from recon_carla_bridge.restore.config import RestorerConfig

if TYPE_CHECKING:  # pragma: no cover
    from diffusers import DDPMScheduler, UNet2DModel


def build_unet(config: RestorerConfig) -> "UNet2DModel":
    """A UNet2DModel (plain ResNet blocks, one self-attention in the middle block) with 3 + condition channels
    in and 3 out; its output is the residual added to the degraded render (so an untrained one is near identity)."""
    from diffusers import UNet2DModel

    levels = len(config.block_out_channels)
    unet = UNet2DModel(
        sample_size=(config.height, config.width),
        in_channels=3 + config.condition_channels,
        out_channels=3,
        block_out_channels=config.block_out_channels,
        layers_per_block=config.layers_per_block,
        down_block_types=("DownBlock2D",) * levels,
        up_block_types=("UpBlock2D",) * levels,
        norm_num_groups=config.norm_num_groups,
        attention_head_dim=8,
    )
    with torch.no_grad():  # start as the identity: the last convolution outputs zeros
        unet.conv_out.weight.zero_()
        unet.conv_out.bias.zero_()
    return unet


def build_scheduler(config: RestorerConfig) -> "DDPMScheduler":
    """The noise schedule: DDPM's linear betas over num_train_timesteps, predicting the clean sample, set to the
    config's explicit timesteps (largest first)."""
    from diffusers import DDPMScheduler

    scheduler = DDPMScheduler(num_train_timesteps=config.num_train_timesteps, prediction_type="sample",
                              clip_sample=True, clip_sample_range=1.0)
    scheduler.set_timesteps(timesteps=list(config.timesteps))
    return scheduler


def pad_to_multiple(images: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """[B, C, H, W] padded (replicating the border) on the bottom and right to sides divisible by `multiple`;
    returns the padded tensor and the original (H, W)."""
    height, width = images.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if pad_h or pad_w:
        images = F.pad(images, (0, pad_w, 0, pad_h), mode="replicate")
    return images, (height, width)
