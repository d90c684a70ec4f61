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
    from recon_carla_bridge.recon.gaussians import GaussianScene
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

    def actor_poses(self, sim: "Simulation") -> dict[str, np.ndarray]:
        """Scene track id -> (4, 4) world_from_box for every drawable actor, at its simulated pose."""
        poses: dict[str, np.ndarray] = {}
        for state in sim.alive_states():
            if state.kind != ActorKind.VEHICLE or state.location[2] < HIDDEN_BELOW_Z:
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
