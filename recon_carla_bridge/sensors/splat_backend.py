"""Camera backend of reconstructed scenes: renders the Gaussian scene at the simulation's poses.

Every camera due in a tick is rendered in one call per image size (gsplat on CUDA, the CPU
rasterizer otherwise); actors are drawn at their current simulated poses, from the Gaussians of the
log track each world actor stands for (actors spawned later borrow a reconstructed vehicle).
"""
from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Sequence

import numpy as np

from recon_carla_bridge.frames import carla_to_scene_box_pose
from recon_carla_bridge.sensors.camera import CameraRequest
from recon_carla_bridge.sensors.camera_encoding import encode_depth, encode_semantic, rgb_to_bgra
from recon_carla_bridge.world.state import ActorKind

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from recon_carla_bridge.recon.camera import CameraBatch
    from recon_carla_bridge.recon.gaussians import GaussianScene
    from recon_carla_bridge.recon.render import RenderOutput
    from recon_carla_bridge.world.simulation import Simulation

HIDDEN_BELOW_Z = -100.0  # actors parked under the map (a ScenarioRunner idiom) are not drawn


class SplatBackend:
    """`CameraBackend` over a GaussianScene."""

    name = "splat"

    def __init__(self, scene: "GaussianScene", backend: str = "auto"):
        self.scene = scene
        self.backend = backend
        self.track_of_actor: dict[int, str] = {}  # world actor id -> scene track id
        vehicles = [(a.gaussians.count, tid) for tid, a in scene.actors.items() if a.category == "vehicle"]
        self.donor_track = max(vehicles)[1] if vehicles else None  # drawn for vehicles the log did not have
        self.ground = ground_plane(scene)

    def actor_poses(self, sim: "Simulation") -> dict[str, np.ndarray]:
        """Scene track id -> (4, 4) world_from_box for every drawable actor, at its simulated pose."""
        poses: dict[str, np.ndarray] = {}
        carriers = sim.camera_carriers()  # a camera's own vehicle is not drawn (the camera sits inside it)
        for state in sim.alive_states():
            if state.kind != ActorKind.VEHICLE or state.location[2] < HIDDEN_BELOW_Z or state.actor_id in carriers:
                continue
            track = self.track_of_actor.get(state.actor_id)
            if track is None:
                if self.donor_track is None:
                    continue
                track = self.donor_track
                if track in poses:  # one donor copy per frame: name it apart
                    continue
            pose = carla_to_scene_box_pose(state.location, float(state.rotation[1]), float(state.box_center[2]))
            poses[track] = pose
        return poses

    def render(self, sim: "Simulation", requests: Sequence[CameraRequest]) -> list[np.ndarray]:
        """One BGRA image per request, rendering each image size in one batch."""
        from recon_carla_bridge.recon.camera import CameraBatch, carla_to_opencv_world_from_camera
        from recon_carla_bridge.recon.render import render

        poses = self.actor_poses(sim)
        by_size: dict[tuple[int, int], list[int]] = defaultdict(list)
        for index, request in enumerate(requests):
            by_size[(request.width, request.height)].append(index)
        images: list[np.ndarray | None] = [None] * len(requests)
        for (width, height), indices in by_size.items():
            world_from_camera = np.stack([carla_to_opencv_world_from_camera(requests[i].world_from_camera) for i in indices])
            intrinsics = np.stack([requests[i].intrinsics() for i in indices])
            cameras = CameraBatch.from_numpy(world_from_camera, intrinsics, width, height)
            output = render(self.scene, cameras, poses, backend=self.backend)
            if self.ground is not None:
                output = fill_ground(output, cameras, self.scene.sky.texture, *self.ground)
            rgb = output.rgb.detach().cpu().numpy()
            depth = output.depth.detach().cpu().numpy()
            semantic = output.semantic.detach().cpu().numpy()
            for slot, index in enumerate(indices):
                kind = requests[index].kind
                if kind == "rgb":
                    images[index] = rgb_to_bgra(rgb[slot])
                elif kind == "depth":
                    images[index] = encode_depth(depth[slot])
                else:
                    images[index] = encode_semantic(semantic[slot])
        return [image for image in images if image is not None]


GROUND_RANGE_M = 150.0  # rays meeting the ground plane further than this keep the sky model


def ground_plane(scene: "GaussianScene") -> tuple[float, np.ndarray] | None:
    """(height m, RGB (3,)) of the road: median of the background Gaussians tagged as road, or None."""
    import torch

    from recon_carla_bridge.recon.gaussians import SH_C0
    from recon_carla_bridge.recon.semantics import CarlaTag

    background = scene.background
    road = (background.semantic == int(CarlaTag.ROADS)) | (background.semantic == int(CarlaTag.ROAD_LINE))
    if int(road.sum()) < 50:
        return None
    height = float(torch.median(background.means[road, 2]))
    colour = (background.sh[road, 0, :] * SH_C0 + 0.5).clamp(0.0, 1.0)
    return height, torch.median(colour, dim=0).values.cpu().numpy()


def fill_ground(output: "RenderOutput", cameras: "CameraBatch", sky_texture: "torch.Tensor", height: float,
                colour: np.ndarray) -> "RenderOutput":
    """Show the road plane, not the sky model, through gaps in the Gaussians below the horizon.

    The sky model is a texture over directions; where the ego's camera leaves the logged views it
    would paint sky-like colours on the road. Rays that meet the plane z = `height` within
    GROUND_RANGE_M get the road colour there (depth of the plane, tag Roads where the sky would be).
    """
    import torch

    from recon_carla_bridge.recon.gaussians import sample_sky_texture
    from recon_carla_bridge.recon.render import RenderOutput
    from recon_carla_bridge.recon.semantics import CarlaTag

    dirs = cameras.ray_directions()  # [C, H, W, 3]
    origin_z = cameras.world_from_camera[:, 2, 3][:, None, None]  # [C, 1, 1]
    distance = (height - origin_z) / torch.where(dirs[..., 2] < -1e-6, dirs[..., 2], torch.full_like(dirs[..., 2], -1e-6))
    hits = (dirs[..., 2] < -1e-6) & (distance > 0.0) & (distance < GROUND_RANGE_M)
    sky = sample_sky_texture(sky_texture.to(dirs.device), dirs)
    ground = torch.as_tensor(colour, dtype=sky.dtype, device=sky.device).expand_as(sky)
    gap = (1.0 - output.alpha)[..., None]
    rgb = torch.where(hits[..., None], torch.clamp(output.rgb + gap * (ground - sky), 0.0, 1.0), output.rgb)
    optical_axis = cameras.world_from_camera[:, :3, 2][:, None, None, :]
    plane_depth = distance * (dirs * optical_axis).sum(dim=-1)
    is_sky = output.semantic == int(CarlaTag.SKY)
    semantic = torch.where(hits & is_sky, torch.full_like(output.semantic, int(CarlaTag.ROADS)), output.semantic)
    depth = torch.where(hits & is_sky, plane_depth, output.depth)
    return RenderOutput(rgb, depth, output.alpha, semantic)
