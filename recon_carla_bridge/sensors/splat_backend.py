"""Camera backend of reconstructed scenes: renders the Gaussian scene at the simulation's poses.

Every camera due in a tick is rendered in one call per image size (gsplat on CUDA, the CPU
rasterizer otherwise); actors are drawn at their current simulated poses, from the Gaussians of the
log track each world actor stands for (actors spawned later borrow a reconstructed vehicle).
"""
from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from recon_carla_bridge.frames import carla_to_scene_box_pose
from recon_carla_bridge.recon.render import ground_plane
from recon_carla_bridge.sensors.camera import CameraRequest
from recon_carla_bridge.sensors.camera_encoding import DEPTH_FAR_M
from recon_carla_bridge.world.state import ActorKind

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from recon_carla_bridge.recon.gaussians import GaussianScene
    from recon_carla_bridge.recon.render import RenderOutput
    from recon_carla_bridge.world.simulation import Simulation

HIDDEN_BELOW_Z = -100.0  # actors parked under the map (a ScenarioRunner idiom) are not drawn


class SplatBackend:
    """`CameraBackend` over a GaussianScene."""

    name = "splat"

    def __init__(self, scene: "GaussianScene", backend: str = "auto"):
        from recon_carla_bridge.recon.render import choose_backend

        self.scene = scene
        self.backend = backend
        self.track_of_actor: dict[int, str] = {}  # world actor id -> scene track id
        vehicles = [(a.gaussians.count, tid) for tid, a in scene.actors.items() if a.category == "vehicle"]
        self.donor_track = max(vehicles)[1] if vehicles else None  # drawn for vehicles the log did not have
        self.ground = ground_plane(scene)
        self.asynchronous = choose_backend(backend) == "gsplat"  # GPU renders are delivered from a thread

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
        return self.launch(sim, requests)()

    def launch(self, sim: "Simulation", requests: Sequence[CameraRequest]) -> Callable[[], list[np.ndarray]]:
        """Start rendering every request (one batch per image size) and the copies of the encoded
        bytes to the host; returns `collect()`, which waits for them and returns one BGRA image per
        request. On CUDA nothing here waits for the GPU but gsplat's own tile-count read-back (the
        small host-to-GPU copies go through pinned memory, `recon.transfer`)."""
        import torch

        from recon_carla_bridge.recon.camera import CameraBatch, carla_to_opencv_world_from_camera
        from recon_carla_bridge.recon.render import render

        poses = self.actor_poses(sim)
        by_size: dict[tuple[int, int], list[int]] = defaultdict(list)
        for index, request in enumerate(requests):
            by_size[(request.width, request.height)].append(index)
        transfers: list[tuple[list[int], "torch.Tensor"]] = []  # request indices, bytes on their way to the host
        for (width, height), indices in by_size.items():
            world_from_camera = np.stack([carla_to_opencv_world_from_camera(requests[i].world_from_camera) for i in indices])
            intrinsics = np.stack([requests[i].intrinsics() for i in indices])
            cameras = CameraBatch.from_numpy(world_from_camera, intrinsics, width, height).to(self.scene.background.means.device)
            output = render(self.scene, cameras, poses, backend=self.backend, ground=self.ground)
            for kind in ("rgb", "depth", "semantic"):
                slots = [slot for slot, index in enumerate(indices) if requests[index].kind == kind]
                if slots:
                    encoded = encode_on_device(output, kind, slots)  # CARLA's BGRA, one transfer per kind
                    host = encoded.to("cpu", non_blocking=encoded.is_cuda)  # pinned, asynchronous on CUDA
                    transfers.append(([indices[slot] for slot in slots], host))
        done = torch.cuda.Event() if any(host.is_pinned() for _, host in transfers) else None
        if done is not None:
            done.record()

        def collect() -> list[np.ndarray]:
            if done is not None:
                done.synchronize()  # releases the GIL while the GPU finishes
            images: list[np.ndarray | None] = [None] * len(requests)
            for targets, host in transfers:
                array = host.numpy()
                for position, index in enumerate(targets):
                    images[index] = array[position]
            return [image for image in images if image is not None]

        return collect


def encode_on_device(output: "RenderOutput", kind: str, slots: list[int]) -> "torch.Tensor":
    """(len(slots), H, W, 4) uint8 BGRA in CARLA's encoding for `kind`, on the render's device.

    Same arithmetic as camera_encoding.rgb_to_bgra / encode_depth / encode_semantic (tested against
    them), done in torch so a GPU render leaves the device once, as bytes.
    """
    import torch

    from recon_carla_bridge.recon.transfer import to_device

    if slots == list(range(slots[0], slots[0] + len(slots))):
        index: "slice | torch.Tensor" = slice(slots[0], slots[0] + len(slots))  # a view: nothing to copy
    else:
        index = to_device(torch.tensor(slots), output.rgb.device)
    count, height, width = len(slots), output.rgb.shape[1], output.rgb.shape[2]
    bgra = torch.empty((count, height, width, 4), dtype=torch.uint8, device=output.rgb.device)
    bgra[..., 3] = 255
    if kind == "rgb":
        rgb = (torch.nan_to_num(output.rgb[index]).clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.uint8)
        bgra[..., 0], bgra[..., 1], bgra[..., 2] = rgb[..., 2], rgb[..., 1], rgb[..., 0]
    elif kind == "depth":
        depth = torch.nan_to_num(output.depth[index].double(), nan=DEPTH_FAR_M, posinf=DEPTH_FAR_M).clamp(0.0, DEPTH_FAR_M)
        code = torch.round(depth / DEPTH_FAR_M * (256.0**3 - 1.0)).to(torch.int64)
        bgra[..., 2] = (code & 0xFF).to(torch.uint8)
        bgra[..., 1] = ((code >> 8) & 0xFF).to(torch.uint8)
        bgra[..., 0] = ((code >> 16) & 0xFF).to(torch.uint8)
    else:
        bgra[..., 0] = 0
        bgra[..., 1] = 0
        bgra[..., 2] = output.semantic[index].to(torch.uint8)
    return bgra
