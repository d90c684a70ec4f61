"""Camera backend of reconstructed scenes: renders the Gaussian scene at the poses of a tick's snapshot.

Every camera due in a tick is rendered in one call per image size (gsplat on CUDA, the CPU
rasterizer otherwise). Every vehicle of the snapshot is drawn at its pose with an appearance: its own
log track when it has one, else the reconstructed vehicle nearest to its size; one appearance may be
drawn any number of times in a frame. When the scene has a restorer (`restore.video.VideoRestorer`), the rgb
images of cameras whose `enable_restorer` is on are refined by it, in one batch per image size, each camera
conditioned on its own previous restored frame.

On the CPU, rgb cameras of low resolution render a level of detail of the scene (`splat_lod`: Gaussians far
smaller than the camera's pixels merged per voxel, chosen per camera from its focal length); `lod=False` renders
every camera at full detail.
"""
from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from recon_carla_bridge.scene.frames import carla_to_scene_box_pose
from recon_carla_bridge.scene.splat_lod import cached_level, focal_of, level_for
from recon_carla_bridge.recon.render import ground_plane
from recon_carla_bridge.sensors.camera import CameraRequest, DrawnActor, RenderSnapshot
from recon_carla_bridge.sensors.camera_encoding import DEPTH_FAR_M

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from recon_carla_bridge.recon.gaussians import GaussianScene
    from recon_carla_bridge.recon.render import RenderOutput
    from recon_carla_bridge.restore.video import VideoRestorer

HIDDEN_BELOW_Z = -100.0  # actors parked under the map (a ScenarioRunner idiom) are not drawn


class SplatBackend:
    """`CameraBackend` over a GaussianScene."""

    name = "splat"

    def __init__(self, scene: "GaussianScene", backend: str = "auto", restorer: "VideoRestorer | None" = None,
                 lod: bool = True):
        from recon_carla_bridge.recon.render import choose_backend

        self.scene = scene
        self.restorer = restorer
        self.backend = backend
        tracks = sorted((tid, a) for tid, a in scene.actors.items() if a.category == "vehicle" and a.gaussians.count)
        self._vehicle_tracks = [tid for tid, _ in tracks]  # appearances for vehicles the log did not have
        self._vehicle_sizes = np.array([a.size.detach().cpu().numpy() for _, a in tracks], dtype=float).reshape(-1, 3)
        self._appearance_of: dict[int, str | None] = {}  # actor id -> track drawn for it (chosen once)
        self.ground = ground_plane(scene)
        self.asynchronous = choose_backend(backend) == "gsplat"  # GPU renders are delivered from a thread
        self.lod = lod and not self.asynchronous  # levels of detail for low-resolution rgb cameras (CPU only)

    def level_of(self, request: CameraRequest) -> float | None:
        """The voxel (m) of the level of detail a request renders (None: the full scene); see `splat_lod`."""
        if not self.lod or request.kind != "rgb":
            return None
        return level_for(focal_of(request.width, request.fov_deg))

    def scene_for(self, voxel: float | None) -> "GaussianScene":
        """The scene at a level of detail (None: the full scene)."""
        return self.scene if voxel is None else cached_level(self.scene, voxel)

    def appearance(self, actor: DrawnActor) -> str | None:
        """The track drawn for a vehicle: its own when the scene has it, else the reconstructed vehicle whose
        box (length, width, height) is nearest to the actor's; None when the scene has no vehicle."""
        if actor.appearance is not None and actor.appearance in self.scene.actors:
            return actor.appearance
        if actor.actor_id not in self._appearance_of:
            chosen = None
            if self._vehicle_tracks:
                gap = np.abs(self._vehicle_sizes - 2.0 * np.asarray(actor.half_extents, dtype=float)).sum(axis=1)
                chosen = self._vehicle_tracks[int(np.argmin(gap))]
            self._appearance_of[actor.actor_id] = chosen
        return self._appearance_of[actor.actor_id]

    def actor_instances(self, snapshot: RenderSnapshot) -> list[tuple[str, np.ndarray]]:
        """(track id, (4, 4) world_from_box) of every drawn vehicle at its snapshot pose. A camera's own
        vehicle is not drawn (the camera sits inside it), nor a vehicle hidden under the map."""
        instances = []
        for actor in snapshot.actors:
            if actor.kind != "vehicle" or actor.location[2] < HIDDEN_BELOW_Z or actor.actor_id in snapshot.camera_carriers:
                continue
            track = self.appearance(actor)
            if track is None:
                continue
            half_height = float(self.scene.actors[track].size[2]) / 2.0  # the appearance stands on the ground
            instances.append((track, carla_to_scene_box_pose(actor.location, float(actor.rotation[1]), half_height)))
        return instances

    def render(self, snapshot: RenderSnapshot, requests: Sequence[CameraRequest]) -> list[np.ndarray]:
        """One BGRA image per request, rendering each image size in one batch."""
        return self.launch(snapshot, requests)()

    def launch(self, snapshot: RenderSnapshot, requests: Sequence[CameraRequest]) -> Callable[[], list[np.ndarray]]:
        """Start rendering every request (one batch per image size) and the copies of the encoded
        bytes to the host; returns `collect()`, which waits for them and returns one BGRA image per
        request. On CUDA nothing here waits for the GPU but gsplat's own tile-count read-back (the
        small host-to-GPU copies go through pinned memory, `recon.transfer`)."""
        import torch

        from recon_carla_bridge.recon.camera import CameraBatch, carla_to_opencv_world_from_camera
        from recon_carla_bridge.recon.render import render

        poses = self.actor_instances(snapshot)
        by_size: dict[tuple[int, int, float | None], list[int]] = defaultdict(list)
        for index, request in enumerate(requests):
            by_size[(request.width, request.height, self.level_of(request))].append(index)
        transfers: list[tuple[list[int], "torch.Tensor"]] = []  # request indices, bytes on their way to the host
        for (width, height, voxel), indices in by_size.items():
            world_from_camera = np.stack([carla_to_opencv_world_from_camera(requests[i].world_from_camera) for i in indices])
            intrinsics = np.stack([requests[i].intrinsics() for i in indices])
            cameras = CameraBatch.from_numpy(world_from_camera, intrinsics, width, height).to(self.scene.background.means.device)
            output = render(self.scene_for(voxel), cameras, poses, backend=self.backend, ground=self.ground)
            restored = [slot for slot, index in enumerate(indices) if requests[index].kind == "rgb" and requests[index].restore]
            if self.restorer is not None and restored:
                output = self._restored(output, restored, [(requests[indices[slot]].camera_id, width, height) for slot in restored])
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

    def _restored(self, output: "RenderOutput", slots: list[int], keys: list[object]) -> "RenderOutput":
        """`output` with the rgb images at `slots` replaced by the restorer's (one batch)."""
        import torch

        index = torch.tensor(slots, device=output.rgb.device)
        refined = self.restorer(output.rgb[index], output.alpha[index], output.depth[index], keys)
        rgb = output.rgb.clone()
        rgb[index] = refined.to(rgb.device, rgb.dtype)
        return output._replace(rgb=rgb)


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
