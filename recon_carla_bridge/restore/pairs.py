"""Training pairs for the restorer, made as ReconDreamer makes them: degraded splat renders beside real frames.

A `RenderPass` renders a trained scene at the logged camera poses of a run of SceneLog frames, degraded one way:
  "as_trained"  the scene as it is: renders of its training frames (an under-trained checkpoint degrades them) or of
                frames it never saw (held out, e.g. beyond the end of its training frames: extrapolation);
  "pruned"      a random fraction of the background Gaussians made transparent (holes, thin geometry);
  "perturbed"   every camera shifted sideways and turned by a small fixed offset (the geometry seen from slightly
                off the logged path; the real frame stays the target, so offsets stay small).
Targets are the log's real frames at the same size. Each pass is one sequence (consecutive frames), so the
training can condition a frame on its predecessor (the restorer's temporal input). Renders use the simulator's
rule: the cameras on the scene's refined ego trajectory, its actor trajectories, its road plane.

A `PairSet` holds the arrays of many passes in one .npz file (no pickle).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from recon_carla_bridge.errors import InputError

KINDS = ("as_trained", "pruned", "perturbed")
_ARRAYS = ("degraded", "alpha", "depth", "target", "sequence", "frame")


@dataclass(frozen=True)
class RenderPass:
    """One rendering of a scene over a run of log frames.

    Attributes:
        scene_log: SceneLog folder (real frames, poses).
        scene: the .gs file rendered.
        frames: frame ranges "A-B,C" of the log.
        kind: one of KINDS.
        width: render width in pixels (aspect of the log's camera kept).
        prune_fraction: "pruned": fraction of background Gaussians removed.
        lateral_m: "perturbed": sideways camera shift [m] (+ right).
        yaw_deg: "perturbed": camera turn [deg] (+ right).
        seed: random seed of the pruning.
    """

    scene_log: str
    scene: str
    frames: str
    kind: str = "as_trained"
    width: int = 310
    prune_fraction: float = 0.5
    lateral_m: float = 0.0
    yaw_deg: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"render pass kind {self.kind!r}: expected one of {KINDS}")
        if not 0.0 <= self.prune_fraction < 1.0:
            raise InputError(f"render pass prune_fraction {self.prune_fraction}: expected [0, 1)")


def frame_list(spec: str, count: int) -> list[int]:
    """Sorted frame indices named by "A-B,C" (within 0..count-1)."""
    from recon_carla_bridge.recon.log_views import held_out_split

    held = held_out_split(count, "none", spec)  # held = every frame NOT named
    return [int(i) for i in np.nonzero(~held)[0]]


def pruned(scene, fraction: float, seed: int):
    """A copy of `scene` whose background keeps each Gaussian with probability 1 - fraction."""
    import dataclasses

    background = scene.background
    generator = torch.Generator().manual_seed(seed)
    dropped = torch.rand(background.count, generator=generator) < fraction
    logits = torch.where(dropped.to(background.opacity_logits.device), torch.full_like(background.opacity_logits, -30.0),
                         background.opacity_logits)
    return dataclasses.replace(scene, background=dataclasses.replace(background, opacity_logits=logits))


def camera_offset(lateral_m: float, yaw_deg: float) -> torch.Tensor:
    """[4, 4] camera_from_moved_camera (OpenCV axes): a shift along x (right) and a turn about y (down)."""
    angle = np.radians(yaw_deg)
    offset = torch.eye(4, dtype=torch.float64)
    offset[0, 0], offset[0, 2], offset[2, 0], offset[2, 2] = np.cos(angle), np.sin(angle), -np.sin(angle), np.cos(angle)
    offset[0, 3] = lateral_m
    return offset


def render_views(scene, views, offset: torch.Tensor | None = None, pose: torch.Tensor | None = None):
    """The render of each view (`ViewTensors`) as the simulator draws it, optionally with the camera moved by
    `offset` (camera_from_moved_camera), or at `pose` ([4, 4] world_from_camera, one view); yields
    (view, RenderOutput) one at a time."""
    from recon_carla_bridge.recon.camera import CameraBatch
    from recon_carla_bridge.recon.render import ground_plane, render

    ground = ground_plane(scene)
    fixed = pose
    for view in views:
        pose = fixed if fixed is not None else scene.camera_pose(view.view.frame_index, view.world_from_camera.cpu(), view.ego_from_camera.cpu())
        if offset is not None:
            pose = pose @ offset
        cameras = CameraBatch(pose[None].float(), view.K[None].float().cpu(), view.view.width, view.view.height)
        yield view, render(scene, cameras, scene.logged_actor_poses(view.view.frame_index), backend="cpu", ground=ground)


def log_views(scene_log, frames: list[int], width: int):
    """`ViewTensors` (images, no LiDAR) of the log's frames at `width` (aspect kept)."""
    from recon_carla_bridge.recon.log_views import list_views, scaled_size, scaled_view
    from recon_carla_bridge.recon.train_data import load_view_tensors

    chosen = set(frames)
    views = [v for v in list_views(scene_log) if v.frame_index in chosen]
    sized = [scaled_view(v, *scaled_size(v.width, v.height, target_width=width)) for v in views]
    return load_view_tensors(scene_log, sized, lidar=False)


def render_pass(spec: RenderPass, sequence: int, forbidden: dict[str, str] | None = None) -> dict[str, np.ndarray]:
    """The arrays of one pass (see PairSet), every row tagged with `sequence`. `forbidden`: SceneLog name ->
    frame ranges no pass may render or read (e.g. the evaluation frames); InputError when the pass names one."""
    from recon_carla_bridge.ingest.scenelog import load_scene_log
    from recon_carla_bridge.recon.scene_file import load_scene

    log = load_scene_log(spec.scene_log)
    frames = frame_list(spec.frames, len(log.frames))
    banned = set(frame_list(forbidden[log.name], len(log.frames))) if forbidden and log.name in forbidden else set()
    if banned & set(frames):
        raise InputError(f"render pass over {log.name!r} frames {spec.frames}: frames {sorted(banned & set(frames))} "
                         "are reserved for evaluation")
    scene = load_scene(spec.scene)
    if spec.kind == "pruned":
        scene = pruned(scene, spec.prune_fraction, spec.seed)
    offset = camera_offset(spec.lateral_m, spec.yaw_deg) if spec.kind == "perturbed" else None
    rows: dict[str, list[np.ndarray]] = {name: [] for name in _ARRAYS}
    for view, output in render_views(scene, log_views(log, frames, spec.width), offset):
        rows["degraded"].append(_bytes(output.rgb[0].numpy()))
        rows["alpha"].append(_bytes(output.alpha[0].numpy()))
        rows["depth"].append(output.depth[0].numpy().astype(np.float16))
        rows["target"].append(view.image.numpy())
        rows["sequence"].append(np.int32(sequence))
        rows["frame"].append(np.int32(view.view.frame_index))
    return {name: np.stack(values) for name, values in rows.items()}


def _bytes(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


@dataclass
class PairSet:
    """Training pairs of many passes.

    Attributes:
        degraded: [N, H, W, 3] uint8 renders.
        alpha: [N, H, W] uint8 render opacity (x 255).
        depth: [N, H, W] float16 render depth [m].
        target: [N, H, W, 3] uint8 real frames.
        sequence: [N] int32 pass index of each row.
        frame: [N] int32 log frame of each row.
        passes: the RenderPass of each sequence.
    """

    degraded: np.ndarray
    alpha: np.ndarray
    depth: np.ndarray
    target: np.ndarray
    sequence: np.ndarray
    frame: np.ndarray
    passes: list[RenderPass]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the images."""
        return int(self.degraded.shape[2]), int(self.degraded.shape[1])

    def previous_row(self) -> np.ndarray:
        """[N] int64: the row of the same sequence one frame earlier, or the row itself when there is none."""
        lookup = {(int(s), int(f)): i for i, (s, f) in enumerate(zip(self.sequence, self.frame))}
        return np.array([lookup.get((int(s), int(f) - 1), i) for i, (s, f) in enumerate(zip(self.sequence, self.frame))])

    @classmethod
    def build(cls, passes: list[RenderPass], forbidden: dict[str, str] | None = None, progress: bool = True) -> PairSet:
        """Render every pass (see `render_pass`)."""
        parts = []
        for index, spec in enumerate(passes):
            if progress:
                print(f"pairs: pass {index + 1}/{len(passes)}: {spec.kind} {Path(spec.scene).parent.name}/{Path(spec.scene).name} "
                      f"frames {spec.frames}", flush=True)
            parts.append(render_pass(spec, index, forbidden))
        sizes = {part["degraded"].shape[1:3] for part in parts}
        if len(sizes) != 1:
            raise InputError(f"pairs: passes render different image sizes {sorted(sizes)}; use one width per pair set")
        arrays = {name: np.concatenate([part[name] for part in parts]) for name in _ARRAYS}
        return cls(**arrays, passes=list(passes))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a compressed .npz (the passes as JSON bytes)."""
        passes = np.frombuffer(json.dumps([asdict(p) for p in self.passes]).encode("utf-8"), dtype=np.uint8)
        np.savez_compressed(path, passes=passes, **{name: getattr(self, name) for name in _ARRAYS})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PairSet:
        """Read a .npz written by `save`; InputError naming the file when it is missing or malformed."""
        source = Path(path)
        if not source.is_file():
            raise InputError(f"{source}: pair file does not exist (make one with tools/make_restorer_pairs.py)")
        try:
            with np.load(source, allow_pickle=False) as data:
                arrays = {name: data[name] for name in _ARRAYS}
                passes = [RenderPass(**p) for p in json.loads(bytes(data["passes"]).decode("utf-8"))]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise InputError(f"{source}: not a restorer pair file ({type(error).__name__}: {error})") from None
        count = len(arrays["degraded"])
        if any(len(a) != count for a in arrays.values()) or arrays["degraded"].shape[-1:] != (3,):
            raise InputError(f"{source}: pair arrays disagree in length or shape")
        return cls(**arrays, passes=passes)

    @classmethod
    def concatenate(cls, sets: list[PairSet]) -> PairSet:
        """One set of several (sequences renumbered); InputError when their image sizes differ."""
        if len({s.size for s in sets}) != 1:
            raise InputError(f"pairs: sets of different image sizes {sorted({s.size for s in sets})}")
        offsets = np.cumsum([0] + [len(s.passes) for s in sets[:-1]])
        arrays = {name: np.concatenate([getattr(s, name) for s in sets]) for name in _ARRAYS if name != "sequence"}
        arrays["sequence"] = np.concatenate([s.sequence + offset for s, offset in zip(sets, offsets)]).astype(np.int32)
        return cls(**arrays, passes=[p for s in sets for p in s.passes])
