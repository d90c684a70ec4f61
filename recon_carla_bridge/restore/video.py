"""The restorer as a video filter over many cameras: the temporal state (each camera's previous restored frame) and
one batched call per tick."""
from __future__ import annotations

from collections import OrderedDict

import torch

from recon_carla_bridge.restore.pipeline import Restorer, RestorerInput


class VideoRestorer:
    """A `Restorer` applied to the frames of many cameras, each conditioned on that camera's previous output.

    State is keyed by a camera key (any hashable, e.g. (camera actor id, width, height)); a camera seen for the
    first time, or whose size changed, starts from its own render. `seed` fixes the sampling noise, so a camera
    that sees the same render twice gets the same image. Only the `max_cameras` most recently used cameras keep
    their frame (destroyed cameras, e.g. one per episode, do not accumulate).
    """

    def __init__(self, restorer: Restorer, seed: int = 0, max_cameras: int = 64):
        self.restorer = restorer
        self.seed = seed
        self.max_cameras = max_cameras
        self._previous: OrderedDict[object, torch.Tensor] = OrderedDict()

    def __call__(self, rgb: torch.Tensor, alpha: torch.Tensor | None, depth: torch.Tensor | None,
                 keys: list[object]) -> torch.Tensor:
        """Restored frames [B, H, W, 3] in [0, 1] of renders `rgb` [B, H, W, 3] (alpha, depth [B, H, W] or None), in
        one batch, at any size (`Restorer.restore_resized`); remembers them as each key's previous frame."""
        device = self.restorer.device
        rgb = rgb.to(device, torch.float32)
        rows = []
        for index, key in enumerate(keys):
            last = self._previous.get(key)
            rows.append(last if last is not None and last.shape == rgb[index].shape else rgb[index])
        frames = RestorerInput(rgb, None if alpha is None else alpha.to(device), None if depth is None else depth.to(device),
                               torch.stack(rows))
        restored = self.restorer.restore_resized(frames, self.seed)
        for index, key in enumerate(keys):
            self._previous[key] = restored[index].detach()
            self._previous.move_to_end(key)
        while len(self._previous) > self.max_cameras:
            self._previous.popitem(last=False)
        return restored

    def reset(self) -> None:
        """Forget every camera's previous frame."""
        self._previous.clear()
