"""Initial GaussianScene from a SceneLog: LiDAR points → background and per-actor Gaussians, and a sky.

* LiDAR points inside an actor's box (a little enlarged, ground slice excluded) go to that actor, in
  its box frame, from every frame the actor was seen in; the rest form the background.
* Each point takes the colour of the pixel it projects to in its own frame's images; points no
  camera saw are dropped (nothing would supervise them). Points are merged on a voxel grid.
* The LiDAR covers little above ~2 m, so facades and trees above it get "column-fill" points: image
  pixels above the topmost LiDAR hit of their column, back-projected at that hit's depth.
* Semantic tags (CARLA 0.9.16): ground points (within 0.2 m of the lowest points of their 1 m cell)
  are Roads within `road_half_width` of the ego path, RoadLine where the road is bright in LiDAR
  intensity, SideWalks up to 4 m further, Terrain beyond or where green; other points are Vegetation
  when green, else Building; actors are tagged from their category. These are heuristics: there is
  no semantic ground truth in the logs. Trained Gaussians (no intensity) are relabelled with the
  ground near the road taken from the ego path's height instead (see `classify_background`).
* Actors with too few LiDAR points get points sampled on their box surface, coloured from images.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

from recon_carla_bridge.ingest.scenelog import SceneLog
from recon_carla_bridge.recon.gaussians import (
    ActorAsset,
    GaussianScene,
    GaussianSet,
    SkyModel,
    rgb_to_sh_dc,
)
from recon_carla_bridge.recon.log_views import (
    View,
    box_local_points,
    list_views,
    load_view_image,
    project_points,
    world_points,
)
from recon_carla_bridge.recon.semantics import CarlaTag, actor_tag


@dataclass(frozen=True)
class InitConfig:
    """Settings of the LiDAR initialisation.

    Attributes:
        voxel_size: background voxel [m] for merging LiDAR points.
        actor_voxel_size: actor voxel [m].
        max_background_points: cap on background points (random subset beyond it).
        box_margin: enlargement [m] of actor boxes when taking their points away from the background.
        ground_slice: points lower than this above a box's bottom stay in the background [m].
        min_actor_points: actors with fewer LiDAR points get box-surface samples.
        box_surface_points: how many box-surface samples such an actor gets.
        column_fill_stride: pixel stride of the column fill (0 disables it).
        sky_size: (rows, columns) of the sky texture.
        sh_degree: 0 or 1.
        initial_opacity: opacity of every new background Gaussian.
        actor_opacity: opacity of every new actor Gaussian (higher, so actors occlude what is behind them
            from the start and the background does not learn their colours).
        road_half_width: ground within this lateral distance [m] of the ego path is road.
        road_line_intensity: road points with at least this LiDAR intensity are RoadLine.
        seed: random seed (subsampling, box-surface samples).
    """

    voxel_size: float = 0.1
    actor_voxel_size: float = 0.06
    max_background_points: int = 200_000
    box_margin: float = 0.25
    ground_slice: float = 0.15
    min_actor_points: int = 200
    box_surface_points: int = 600
    column_fill_stride: int = 6
    sky_size: tuple[int, int] = (32, 256)
    sh_degree: int = 1
    initial_opacity: float = 0.1
    actor_opacity: float = 0.5
    road_half_width: float = 5.5
    road_line_intensity: float = 0.55
    seed: int = 0


@dataclass
class _Cloud:
    """Accumulated coloured points (world or box frame)."""

    xyz: list[np.ndarray]
    rgb: list[np.ndarray]
    intensity: list[np.ndarray]

    @staticmethod
    def new() -> _Cloud:
        return _Cloud([], [], [])

    def add(self, xyz: np.ndarray, rgb: np.ndarray, intensity: np.ndarray) -> None:
        self.xyz.append(xyz)
        self.rgb.append(rgb)
        self.intensity.append(intensity)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.xyz:
            return np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0)
        return np.concatenate(self.xyz), np.concatenate(self.rgb), np.concatenate(self.intensity)


def voxel_merge(xyz: np.ndarray, rgb: np.ndarray, intensity: np.ndarray, voxel: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Average points per voxel: returns xyz (V, 3), rgb (V, 3), intensity (V,), count (V,)."""
    if len(xyz) == 0:
        return xyz, rgb, intensity, np.zeros(0, dtype=np.int64)
    keys = np.floor(xyz / voxel).astype(np.int64)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)

    def mean(values: np.ndarray) -> np.ndarray:
        out = np.zeros((len(counts),) + values.shape[1:])
        np.add.at(out, inverse, values)
        return out / counts.reshape((-1,) + (1,) * (values.ndim - 1))

    return mean(xyz), mean(rgb), mean(intensity), counts


def _colour_points(points: np.ndarray, views: list[View], images: dict[tuple[int, str], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Colour (M, 3) and seen-mask (M,) of world points from the given views (first view that sees a point wins)."""
    rgb = np.zeros((len(points), 3))
    seen = np.zeros(len(points), dtype=bool)
    for view in views:
        uv, _, inside = project_points(points, view.world_from_camera, view.K, view.width, view.height)
        take = inside & ~seen
        if take.any():
            image = images[(view.frame_index, view.camera)]
            px = uv[take].astype(np.int64)
            rgb[take] = image[px[:, 1], px[:, 0]]
            seen |= take
    return rgb, seen


def _ground_mask(xyz: np.ndarray, cell: float = 1.0, tolerance: float = 0.2) -> np.ndarray:
    """Points within `tolerance` of the 3rd-lowest-percentile height of their `cell` x `cell` column."""
    keys = np.floor(xyz[:, :2] / cell).astype(np.int64)
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.lexsort((xyz[:, 2], inverse))
    sorted_cells = inverse[order]
    starts = np.searchsorted(sorted_cells, np.arange(inverse.max() + 1))
    ends = np.searchsorted(sorted_cells, np.arange(inverse.max() + 1), side="right")
    low_index = starts + ((ends - starts - 1) * 0.03).astype(np.int64)
    floor = xyz[order[low_index], 2]
    return xyz[:, 2] < floor[inverse] + tolerance


def _lateral_distance(xy: np.ndarray, path: np.ndarray) -> np.ndarray:
    """Distance (M,) of points (M, 2) to the ego path polyline (F, 2), extended 200 m past both ends."""
    if len(path) >= 2 and np.linalg.norm(path[-1] - path[0]) > 0.5:
        head = path[0] - 200.0 * (path[1] - path[0]) / max(np.linalg.norm(path[1] - path[0]), 1e-6)
        tail = path[-1] + 200.0 * (path[-1] - path[-2]) / max(np.linalg.norm(path[-1] - path[-2]), 1e-6)
        path = np.concatenate([head[None], path, tail[None]])
    else:  # (nearly) standing still: a straight road along x through the ego position
        path = np.array([path[0] - [200.0, 0.0], path[0] + [200.0, 0.0]])
    best = np.full(len(xy), np.inf)
    for a, b in itertools.pairwise(path):
        ab = b - a
        t = np.clip(((xy - a) @ ab) / max(ab @ ab, 1e-9), 0.0, 1.0)
        best = np.minimum(best, np.linalg.norm(xy - (a + t[:, None] * ab), axis=1))
    return best


ROAD_HEIGHT_ABOVE_M = 0.3  # trained Gaussians this far above the ego path's ground still draw the road
ROAD_DEPTH_BELOW_M = 1.5  # ... and this far below it (sunk under the surface, seen through it)
ROAD_LINE_REACH_M = 0.25  # a trained road Gaussian this close to a LiDAR road-line point is RoadLine


def _path_height(xy: np.ndarray, path: np.ndarray) -> np.ndarray:
    """Height (M,) of the ego path (F, 3) at its vertex nearest to each point (M, 2)."""
    from scipy.spatial import cKDTree

    _, nearest = cKDTree(path[:, :2]).query(xy)
    return path[nearest, 2]


def _is_green(rgb: np.ndarray) -> np.ndarray:
    return (rgb[:, 1] > rgb[:, 0] * 1.08) & (rgb[:, 1] > rgb[:, 2] * 1.08)


def _is_sky_like(rgb: np.ndarray) -> np.ndarray:
    brightness = rgb.mean(axis=-1)
    saturation = rgb.max(axis=-1) - rgb.min(axis=-1)
    return ((brightness > 0.75) & (saturation < 0.15)) | ((rgb[..., 2] > rgb[..., 0] * 1.15) & (brightness > 0.45))


def classify_background(
    xyz: np.ndarray, rgb: np.ndarray, intensity: np.ndarray | None, ego_path: np.ndarray, config: InitConfig,
    road_lines: np.ndarray | None = None,
) -> np.ndarray:
    """CARLA tags (M,) of background points by the heuristics in the module docstring.

    Without LiDAR `intensity` (trained Gaussians): the ground near the road is the ego path's height
    (-ROAD_DEPTH_BELOW_M .. +ROAD_HEIGHT_ABOVE_M), road markings are the road Gaussians within
    ROAD_LINE_REACH_M of a LiDAR road-line point (`road_lines` (K, 3), the initial scene's RoadLine
    points; none without them: a trained Gaussian's own colour says little, neighbours compensate each
    other), and sky-coloured points more than 8 m above the ground are Sky.
    """
    tags = np.full(len(xyz), int(CarlaTag.BUILDING), dtype=np.int64)
    if len(xyz) == 0:
        return tags
    ground = _ground_mask(xyz)
    lateral = _lateral_distance(xyz[:, :2], ego_path[:, :2])
    if intensity is None:
        # Trained Gaussians: some sink below the road surface and drag each cell's low percentile down, and
        # under a bridge the cell's lowest Gaussians are the bridge itself. Near the road the ego path (its
        # origin is on the ground) gives the height of the ground instead.
        near_road = lateral <= config.road_half_width + 4.0
        height = xyz[:, 2] - _path_height(xyz[:, :2], ego_path)
        ground = np.where(near_road, (height >= -ROAD_DEPTH_BELOW_M) & (height <= ROAD_HEIGHT_ABOVE_M), ground)
    green = _is_green(rgb)
    tags[~ground & green] = int(CarlaTag.VEGETATION)
    road = ground & (lateral <= config.road_half_width)
    tags[road] = int(CarlaTag.ROADS)
    if intensity is not None:
        tags[road & (intensity >= config.road_line_intensity)] = int(CarlaTag.ROAD_LINE)
    else:
        if road_lines is not None and len(road_lines) and road.any():
            from scipy.spatial import cKDTree

            distance, _ = cKDTree(road_lines).query(xyz[road], distance_upper_bound=ROAD_LINE_REACH_M)
            marked = np.zeros(len(xyz), dtype=bool)
            marked[np.nonzero(road)[0][np.isfinite(distance)]] = True
            tags[marked] = int(CarlaTag.ROAD_LINE)
        tags[(xyz[:, 2] > float(np.median(ego_path[:, 2])) + 8.0) & _is_sky_like(rgb)] = int(CarlaTag.SKY)
    sidewalk = ground & ~road & (lateral <= config.road_half_width + 4.0)
    tags[sidewalk] = int(CarlaTag.SIDEWALKS)
    tags[ground & ~road & (~sidewalk | green)] = int(CarlaTag.TERRAIN)
    return tags


def _column_fill(view: View, image: np.ndarray, points: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """World points and colours for pixels above the topmost LiDAR hit of their column (see module docstring)."""
    uv, depth, inside = project_points(points, view.world_from_camera, view.K, view.width, view.height)
    if not inside.any():
        return np.zeros((0, 3)), np.zeros((0, 3))
    uv, depth = uv[inside], depth[inside]
    columns = (uv[:, 0] // stride).astype(np.int64)
    n_columns = (view.width + stride - 1) // stride
    top_v = np.full(n_columns, np.inf)
    np.minimum.at(top_v, columns, uv[:, 1])
    top_depth = np.zeros(n_columns)
    hit = uv[:, 1] <= top_v[columns] + 1e-6
    top_depth[columns[hit]] = depth[hit]
    out_xyz, out_rgb = [], []
    camera_rotation, camera_origin = view.world_from_camera[:3, :3], view.world_from_camera[:3, 3]
    for column in np.nonzero(np.isfinite(top_v))[0]:
        u = column * stride + stride / 2
        rows = np.arange(stride / 2, top_v[column] - stride, stride)
        if len(rows) == 0:
            continue
        colours = image[rows.astype(np.int64), min(int(u), view.width - 1)]
        keep = ~_is_sky_like(colours)
        if not keep.any():
            continue
        d = np.clip(top_depth[column], 3.0, 80.0)
        local = np.stack([(u - view.K[0, 2]) / view.K[0, 0] * np.ones(keep.sum()), (rows[keep] - view.K[1, 2]) / view.K[1, 1], np.ones(keep.sum())], axis=1) * d
        out_xyz.append(local @ camera_rotation.T + camera_origin)
        out_rgb.append(colours[keep])
    if not out_xyz:
        return np.zeros((0, 3)), np.zeros((0, 3))
    return np.concatenate(out_xyz), np.concatenate(out_rgb)


def _gaussians(xyz: np.ndarray, rgb: np.ndarray, tags: np.ndarray, scale: np.ndarray, config: InitConfig, opacity: float) -> GaussianSet:
    n = len(xyz)
    k = (config.sh_degree + 1) ** 2
    sh = torch.zeros(n, k, 3)
    sh[:, 0] = rgb_to_sh_dc(torch.as_tensor(rgb, dtype=torch.float32).clamp(0.02, 0.98))
    logit = math.log(opacity / (1 - opacity))
    return GaussianSet(
        means=torch.as_tensor(xyz, dtype=torch.float32),
        quats=torch.tensor([1.0, 0.0, 0.0, 0.0]).repeat(n, 1),
        log_scales=torch.log(torch.as_tensor(scale, dtype=torch.float32))[:, None].repeat(1, 3),
        opacity_logits=torch.full((n,), logit),
        sh=sh,
        semantic=torch.as_tensor(tags, dtype=torch.int64),
    )


def _box_surface_samples(size: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """(count, 3) points on the surface of a box of `size` (l, w, h) centred at the origin (bottom face excluded)."""
    half = size / 2
    points = rng.uniform(-half, half, size=(count, 3))
    axis = rng.choice([0, 1, 2], size=count, p=[0.35, 0.35, 0.3])
    sign = np.where(rng.random(count) < 0.5, -1.0, 1.0)
    sign[axis == 2] = 1.0
    points[np.arange(count), axis] = sign * half[axis]
    return points * 0.95


def initial_scene(log: SceneLog, config: InitConfig = InitConfig(), views: list[View] | None = None,
                  last_lidar_frame: int | None = None) -> GaussianScene:
    """Build the initial GaussianScene of `log` (training views only colour it: held-out images stay unseen).

    `last_lidar_frame`: LiDAR scans of later frames are not used (a forward-extrapolation split must not see
    the geometry of the frames it is scored on); None uses every scan."""
    rng = np.random.default_rng(config.seed)
    views = [v for v in (views or list_views(log)) if not v.held_out]
    images = {(v.frame_index, v.camera): load_view_image(v) for v in views}
    views_by_frame: dict[int, list[View]] = {}
    for view in views:
        views_by_frame.setdefault(view.frame_index, []).append(view)

    background = _Cloud.new()
    actor_clouds = {track.track_id: _Cloud.new() for track in log.tracks}
    fill_xyz, fill_rgb = [], []
    for frame in log.frames:
        if not frame.lidars or (last_lidar_frame is not None and frame.index > last_lidar_frame):
            continue
        points = world_points(log, frame.index)
        xyz, intensity = points[:, :3], points[:, 3]
        # colour from this frame's images, else from the nearest training frame with images
        frame_views = views_by_frame.get(frame.index)
        if not frame_views:
            nearest = min(views_by_frame, key=lambda f: abs(f - frame.index), default=None)
            frame_views = views_by_frame.get(nearest, []) if nearest is not None else []
        free = np.ones(len(xyz), dtype=bool)
        for track in log.tracks:
            local = box_local_points(track, frame.index, xyz)
            if local is None:
                continue
            half = track.size / 2 + config.box_margin
            in_box = np.all(np.abs(local) <= half, axis=1)
            body = in_box & (local[:, 2] >= -track.size[2] / 2 + config.ground_slice)
            free &= ~body
            if body.any():
                rgb, seen = _colour_points(xyz[body], frame_views, images)
                actor_clouds[track.track_id].add(local[body][seen], rgb[seen], intensity[body][seen])
        rgb, seen = _colour_points(xyz[free], frame_views, images)
        background.add(xyz[free][seen], rgb[seen], intensity[free][seen])
        if config.column_fill_stride > 0:
            for view in frame_views if frame.index in views_by_frame else []:
                f_xyz, f_rgb = _column_fill(view, images[(view.frame_index, view.camera)], xyz[free], config.column_fill_stride)
                fill_xyz.append(f_xyz)
                fill_rgb.append(f_rgb)

    ego_path = log.ego_positions()
    xyz, rgb, intensity, _ = voxel_merge(*background.arrays(), config.voxel_size)
    tags = classify_background(xyz, rgb, intensity, ego_path, config)
    if fill_xyz:
        f_xyz, f_rgb, _, _ = voxel_merge(np.concatenate(fill_xyz), np.concatenate(fill_rgb), np.zeros(sum(len(f) for f in fill_xyz)), config.voxel_size * 3)
        f_tags = np.where(_is_green(f_rgb), int(CarlaTag.VEGETATION), int(CarlaTag.BUILDING))
        xyz, rgb, tags = np.concatenate([xyz, f_xyz]), np.concatenate([rgb, f_rgb]), np.concatenate([tags, f_tags])
    if len(xyz) > config.max_background_points:
        keep = rng.choice(len(xyz), config.max_background_points, replace=False)
        xyz, rgb, tags = xyz[keep], rgb[keep], tags[keep]
    distance = np.min(np.linalg.norm(xyz[:, None, :] - ego_path[None, :: max(1, len(ego_path) // 8)], axis=-1), axis=1) if len(xyz) else np.zeros(0)
    scale = np.clip(np.maximum(config.voxel_size * 0.5, distance * 0.004), 0.02, 2.0)
    background_set = _gaussians(xyz, rgb, tags, scale, config, config.initial_opacity)

    actors = {}
    for track in log.tracks:
        a_xyz, a_rgb, _, _ = voxel_merge(*actor_clouds[track.track_id].arrays(), config.actor_voxel_size)
        if len(a_xyz) < config.min_actor_points:
            samples = _box_surface_samples(track.size, config.box_surface_points, rng)
            s_rgb, s_seen = np.full((len(samples), 3), 0.4), np.zeros(len(samples), dtype=bool)
            for box in track.boxes:
                if box.frame_index not in views_by_frame or s_seen.all():
                    continue
                pose = box.world_from_box()
                colours, seen = _colour_points(samples @ pose[:3, :3].T + pose[:3, 3], views_by_frame[box.frame_index], images)
                s_rgb[seen & ~s_seen] = colours[seen & ~s_seen]
                s_seen |= seen
            a_xyz, a_rgb = np.concatenate([a_xyz, samples]), np.concatenate([a_rgb, s_rgb])
        tag = int(actor_tag(track.category, float(track.size[0])))
        gaussians = _gaussians(
            a_xyz, a_rgb, np.full(len(a_xyz), tag), np.full(len(a_xyz), config.actor_voxel_size * 0.6), config, config.actor_opacity
        )
        actors[track.track_id] = ActorAsset(
            track_id=track.track_id,
            category=track.category,
            size=torch.as_tensor(track.size, dtype=torch.float32),
            moving=track.moving,
            gaussians=gaussians,
            frame_indices=torch.tensor([b.frame_index for b in track.boxes], dtype=torch.int64),
            world_from_box=torch.as_tensor(np.stack([b.world_from_box() for b in track.boxes]) if track.boxes else np.zeros((0, 4, 4)), dtype=torch.float32),
        )

    sky_pixels = [img[: img.shape[0] // 3].reshape(-1, 3) for img in images.values()]
    sky_pixels = np.concatenate(sky_pixels) if sky_pixels else np.zeros((0, 3))
    sky_like = sky_pixels[_is_sky_like(sky_pixels)]
    sky_colour = tuple(float(c) for c in (sky_like.mean(axis=0) if len(sky_like) else np.array([0.7, 0.75, 0.8])))
    sky = SkyModel.uniform(sky_colour, *config.sky_size)  # type: ignore[arg-type]
    metadata = {"scene_name": log.name, "source": log.source}
    return GaussianScene(background_set, actors, sky, metadata)
