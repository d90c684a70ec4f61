"""Camera batches for rendering, and the CARLA-to-SceneLog camera pose conversion.

Conventions: the SceneLog world is right-handed, z up, metres. Camera poses are `world_from_camera`
4x4 with OpenCV camera axes (x right, y down, z forward). CARLA's world is left-handed (x forward,
y right, z up) and a CARLA camera looks along its own +x with y right and z up. A SceneLog world point
(x, y, z) is the CARLA point (x, -y, z).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.recon.transfer import to_device

# S: CARLA world -> SceneLog world (flip y). Its own inverse.
_FLIP_Y = np.diag([1.0, -1.0, 1.0, 1.0])
# P: OpenCV camera coords (a, b, c) -> CARLA camera-local coords (c, a, -b).
_OPENCV_TO_CARLA_CAMERA = np.array(
    [[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)


def carla_to_opencv_world_from_camera(matrix_4x4_carla: np.ndarray | list[list[float]]) -> np.ndarray:
    """SceneLog `world_from_camera` (OpenCV axes) of a CARLA camera.

    Args:
        matrix_4x4_carla: (4, 4) `carla.Transform.get_matrix()` of the camera: CARLA camera-local
            (x forward, y right, z up) to CARLA world (left-handed).

    Returns:
        (4, 4) float64 rigid transform S · M · P, from OpenCV camera coordinates to the SceneLog world
        (right-handed, z up); its rotation has determinant +1.
    """
    matrix = np.asarray(matrix_4x4_carla, dtype=np.float64)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        raise InputError(f"matrix_4x4_carla: expected a finite (4, 4) matrix, got shape {matrix.shape}")
    return _FLIP_Y @ matrix @ _OPENCV_TO_CARLA_CAMERA


def intrinsics_from_fov(width: int, height: int, fov_deg: float) -> np.ndarray:
    """(3, 3) K of a CARLA pinhole camera: horizontal field of view `fov_deg`, principal point at the centre."""
    if width <= 0 or height <= 0 or not 0.0 < fov_deg < 180.0:
        raise InputError(f"camera: need width, height > 0 and 0 < fov < 180, got {width}x{height} fov {fov_deg}")
    focal = width / (2.0 * math.tan(math.radians(fov_deg) / 2.0))
    return np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class CameraBatch:
    """C pinhole cameras sharing one image size.

    Attributes:
        world_from_camera: [C, 4, 4] float32 camera poses (OpenCV axes, SceneLog world, metres).
        K: [C, 3, 3] float32 intrinsics in pixels (pixel centres at integer + 0.5, like gsplat).
        width: image width W in pixels.
        height: image height H in pixels.

    Poses and intrinsics are checked to be finite when they are on the host (a batch is built there
    and moved with `to`); a check of GPU tensors would make the CPU wait for the GPU every frame.
    """

    world_from_camera: torch.Tensor
    K: torch.Tensor
    width: int
    height: int

    def __post_init__(self) -> None:
        pose, K = self.world_from_camera, self.K
        if pose.ndim != 3 or pose.shape[1:] != (4, 4):
            raise InputError(f"CameraBatch.world_from_camera: expected [C, 4, 4], got {tuple(pose.shape)}")
        if K.ndim != 3 or K.shape[1:] != (3, 3) or K.shape[0] != pose.shape[0]:
            raise InputError(f"CameraBatch.K: expected [{pose.shape[0]}, 3, 3], got {tuple(K.shape)}")
        if self.width <= 0 or self.height <= 0:
            raise InputError(f"CameraBatch: image size must be positive, got {self.width}x{self.height}")
        on_host = pose.device.type == "cpu" and K.device.type == "cpu"  # on a GPU the test would wait for it
        if on_host and (not bool(torch.isfinite(pose).all()) or not bool(torch.isfinite(K).all())):
            raise InputError("CameraBatch: poses and intrinsics must be finite")

    @staticmethod
    def from_numpy(
        world_from_camera: np.ndarray, K: np.ndarray, width: int, height: int, device: str | torch.device = "cpu"
    ) -> CameraBatch:
        """Build a batch from (C, 4, 4) / (4, 4) poses and (C, 3, 3) / (3, 3) intrinsics."""
        pose = np.asarray(world_from_camera, dtype=np.float64).reshape(-1, 4, 4)
        intr = np.asarray(K, dtype=np.float64).reshape(-1, 3, 3)
        if intr.shape[0] == 1 and pose.shape[0] > 1:
            intr = np.repeat(intr, pose.shape[0], axis=0)
        return CameraBatch(
            world_from_camera=torch.as_tensor(pose, dtype=torch.float32, device=device),
            K=torch.as_tensor(intr, dtype=torch.float32, device=device),
            width=int(width),
            height=int(height),
        )

    @property
    def num_cameras(self) -> int:
        """C."""
        return int(self.world_from_camera.shape[0])

    @property
    def device(self) -> torch.device:
        """Device of the tensors."""
        return self.world_from_camera.device

    def camera_from_world(self) -> torch.Tensor:
        """[C, 4, 4] view matrices (rigid inverse of the poses), as gsplat's `viewmats`."""
        rotation = self.world_from_camera[:, :3, :3]
        translation = self.world_from_camera[:, :3, 3:]
        view = torch.zeros_like(self.world_from_camera)
        view[:, :3, :3] = rotation.transpose(1, 2)
        view[:, :3, 3:] = -rotation.transpose(1, 2) @ translation
        view[:, 3, 3] = 1.0
        return view

    def to(self, device: str | torch.device) -> CameraBatch:
        """The same cameras on another device (this batch itself when it is there already)."""
        world_from_camera, K = to_device(self.world_from_camera, device), to_device(self.K, device)
        if world_from_camera is self.world_from_camera and K is self.K:
            return self
        return CameraBatch(world_from_camera, K, self.width, self.height)

    def scaled(self, width: int, height: int) -> CameraBatch:
        """The same cameras rendering at another resolution (intrinsics scaled per axis)."""
        sx, sy = width / self.width, height / self.height
        K = self.K.clone()
        K[:, 0, :] *= sx
        K[:, 1, :] *= sy
        return CameraBatch(self.world_from_camera, K, int(width), int(height))

    def ray_directions(self) -> torch.Tensor:
        """[C, H, W, 3] unit world-space directions through the pixel centres (computed once per batch)."""
        return self._ray_directions

    @cached_property
    def _ray_directions(self) -> torch.Tensor:
        ys, xs = torch.meshgrid(
            torch.arange(self.height, dtype=torch.float32, device=self.device) + 0.5,
            torch.arange(self.width, dtype=torch.float32, device=self.device) + 0.5,
            indexing="ij",
        )
        fx, fy = self.K[:, 0, 0, None, None], self.K[:, 1, 1, None, None]
        cx, cy = self.K[:, 0, 2, None, None], self.K[:, 1, 2, None, None]
        local = torch.stack([(xs - cx) / fx, (ys - cy) / fy, torch.ones_like(xs).expand_as((xs - cx) / fx)], dim=-1)
        world = torch.einsum("cij,chwj->chwi", self.world_from_camera[:, :3, :3], local)
        return torch.nn.functional.normalize(world, dim=-1)
