"""Progressive data update (ReconDreamer): restored renders of novel views become pseudo ground truth.

`pseudo_views` renders a reconstructed scene from camera poses the log never had, restores them with the restorer
(as videos: consecutive frames of one novel trajectory share the temporal state) and returns them as training views
for `recon.train.train(..., pseudo_views=...)`, which adds them to the real views with a reduced loss weight:
  lateral: every `frame_stride`-th training frame, the camera shifted sideways by each of `lateral_m` (lane changes);
  forward: from the last training frame, the camera moved `forward_step_m`, 2x, ... `forward_count`x ahead along its
           own axis (driving past the end of the training frames).
A pseudo view keeps the log frame it was made from (its per-frame ego, actor and colour corrections are those of
that frame); its camera mounting carries the offset, so training renders it exactly where it was rendered here (on
the log's own ego poses, as training starts from them). It has no LiDAR depth and no actor pixels.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from recon_carla_bridge.restore.pairs import camera_offset


@dataclass(frozen=True)
class ProgressiveConfig:
    """Which novel views become pseudo ground truth.

    Attributes:
        lateral_m: sideways camera shifts [m] (+ right), each rendered at every frame_stride-th training frame.
        frame_stride: training frames used for the lateral views.
        forward_count: forward views beyond the last training frame.
        forward_step_m: distance between forward views [m].
        weight: loss weight of a pseudo view (a real view weighs 1).
    """

    lateral_m: tuple[float, ...] = (-1.5, 1.5)
    frame_stride: int = 4
    forward_count: int = 8
    forward_step_m: float = 2.0
    weight: float = 0.5


def _forward(metres: float) -> torch.Tensor:
    """[4, 4] camera_from_moved_camera: `metres` along the camera's own z (OpenCV forward)."""
    offset = torch.eye(4, dtype=torch.float64)
    offset[2, 3] = metres
    return offset


def _moved(view, offset: torch.Tensor, tag: str):
    """`view` (ViewTensors) with its camera moved by `offset` (camera frame), image not yet replaced."""
    moved = offset.float()
    return dataclasses.replace(
        view, view=dataclasses.replace(view.view, image_path=f"pseudo:{tag}", held_out=False),
        world_from_camera=view.world_from_camera @ moved, ego_from_camera=view.ego_from_camera @ moved,
        depth_pixels=view.depth_pixels[:0], depth_values=view.depth_values[:0], actor_pixels=view.actor_pixels[:0])


def pseudo_views(scene, views: list, restorer, config: ProgressiveConfig = ProgressiveConfig()) -> list[tuple[object, float]]:
    """(ViewTensors, weight) pseudo views of `scene` around the training `views` (ViewTensors at the restorer's
    resolution, in frame order), restored by `restorer` (a `Restorer`)."""
    from recon_carla_bridge.restore.pairs import render_views
    from recon_carla_bridge.restore.video import VideoRestorer

    logged = dataclasses.replace(scene, ego_poses=None)  # training restarts from the log's own ego poses
    trajectories: list[list] = []
    for shift in config.lateral_m:
        chosen = [v for v in views if v.view.frame_index % config.frame_stride == 0]
        trajectories.append([_moved(v, camera_offset(shift, 0.0), f"lateral{shift:+.1f}") for v in chosen])
    if config.forward_count > 0:
        last = max(views, key=lambda v: v.view.frame_index)
        trajectories.append([_moved(last, _forward(k * config.forward_step_m), f"forward{k * config.forward_step_m:.1f}")
                             for k in range(1, config.forward_count + 1)])
    out = []
    for trajectory in trajectories:
        video = VideoRestorer(restorer)
        for view in trajectory:
            (_, output), = render_views(logged, [view], pose=view.world_from_camera.double())
            restored = video(output.rgb, output.alpha, output.depth, ["pseudo"])[0].cpu()
            image = torch.from_numpy(np.round(restored.numpy() * 255.0).astype(np.uint8))
            out.append((dataclasses.replace(view, image=image), config.weight))
    return out
