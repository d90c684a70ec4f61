"""Pictures of a SceneLog for a person to check: a bird's-eye view and a strip of annotated frames."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.ingest.scenelog import SceneLog, box_corners, invert_pose

# Edges of a box's 8 corners (see scenelog.box_corners): bottom, top, verticals, and a cross on the front.
BOX_EDGES = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7), (0, 5), (1, 4))


def lane_polygons(log: SceneLog, step: float = 1.0) -> list[np.ndarray]:
    """World-frame (N, 2) outlines of each driving lane of the log's road network, via carla.Map."""
    import carla

    from recon_carla_bridge.roadnet.check import load_carla_map

    if log.road_network is None:
        return []
    carla_map = load_carla_map(log.name, log.path(log.road_network).read_text(encoding="utf-8"))
    lanes: dict[tuple[int, int, int], list] = {}
    for waypoint in carla_map.generate_waypoints(step):
        if waypoint.lane_type == carla.LaneType.Driving:
            lanes.setdefault((waypoint.road_id, waypoint.section_id, waypoint.lane_id), []).append(waypoint)
    polygons = []
    for waypoints in lanes.values():
        waypoints.sort(key=lambda w: w.s)
        left, right = [], []
        for w in waypoints:
            loc, yaw = w.transform.location, np.radians(w.transform.rotation.yaw)
            # CARLA frame (y flipped) -> world: (x, -y); the lane's left normal in world is (sin, cos).
            x, y, heading = loc.x, -loc.y, -yaw
            normal = np.array([-np.sin(heading), np.cos(heading)]) * w.lane_width / 2
            left.append(np.array([x, y]) + normal)
            right.append(np.array([x, y]) - normal)
        polygons.append(np.array(left + right[::-1]))
    return polygons


def plot_bev(log: SceneLog, path: Path, lidar_every: int = 4, margin: float = 25.0) -> Path:
    """Bird's-eye view PNG: accumulated LiDAR, lanes, ego path and ego box, actor tracks with boxes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon

    fig, ax = plt.subplots(figsize=(16, 10))
    for polygon in lane_polygons(log):
        ax.add_patch(Polygon(polygon, closed=True, facecolor="#d9d9d9", edgecolor="#7f7f7f", linewidth=0.8, zorder=0))
    lidar_name = next(iter(log.lidars), None)
    scan_frames = [f.index for f in log.frames if lidar_name in f.lidars][::lidar_every]
    for index in scan_frames:
        points = log.load_points(index, lidar_name)
        points = points[(points[:, 2] > 0.3) & (points[:, 2] < 3.0)][::3]
        world = points[:, :3] @ log.frames[index].world_from_ego[:3, :3].T + log.frames[index].world_from_ego[:3, 3]
        ax.scatter(world[:, 0], world[:, 1], s=0.15, c="#404040", alpha=0.35, linewidths=0, zorder=1)
    ego = log.ego_positions()
    ax.plot(ego[:, 0], ego[:, 1], color="tab:blue", linewidth=2.5, label="ego path", zorder=4)
    for index in (0, len(log.frames) - 1):
        pose = log.frames[index].world_from_ego
        corners = box_corners(pose[:3, 3] + pose[:3, :3] @ np.array([0.0, 0.0, log.ego_size[2] / 2]), log.ego_size, np.arctan2(pose[1, 0], pose[0, 0]))[:4]
        ax.fill(corners[:, 0], corners[:, 1], color="tab:blue", alpha=0.5, zorder=4)
    for track in log.tracks:
        color = "tab:red" if track.moving else "tab:orange"
        centers = np.array([b.center for b in track.boxes])
        ax.plot(centers[:, 0], centers[:, 1], color=color, linewidth=1.2, zorder=3)
        for box in (track.boxes[0], track.boxes[-1]) if track.moving else (track.boxes[0],):
            corners = box_corners(box.center, track.size, box.yaw)[:4]
            ax.fill(corners[:, 0], corners[:, 1], facecolor=color, alpha=0.35 if box is track.boxes[0] else 0.7, edgecolor=color, zorder=3)
        ax.annotate(track.track_id.split("_")[-1], centers[-1, :2], fontsize=7, color="black", zorder=5)
    ax.plot([], [], color="tab:red", label="moving actor (first/last box)")
    ax.plot([], [], color="tab:orange", label="parked / static actor")
    ax.fill([], [], color="#d9d9d9", label="driving lanes (road.xodr via carla.Map)")
    extent = np.concatenate([ego[:, :2]] + [np.array([b.center[:2] for b in t.boxes]) for t in log.tracks])
    low, high = extent.min(axis=0) - 8, extent.max(axis=0) + 8
    low, high = np.maximum(low, ego[:, :2].min(axis=0) - margin * 2), np.minimum(high, ego[:, :2].max(axis=0) + margin * 2)
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.set_aspect("equal")
    ax.grid(True, linewidth=0.3)
    ax.set_xlabel("world x [m]")
    ax.set_ylabel("world y [m]")
    length = float(np.linalg.norm(np.diff(ego, axis=0), axis=1).sum()) if len(ego) > 1 else 0.0
    ax.set_title(f"{log.name}: {len(log.frames)} frames, ego path {length:.1f} m, {len(log.tracks)} tracks "
                 f"({sum(t.moving for t in log.tracks)} moving)")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def annotate_frame(log: SceneLog, frame_index: int, camera: str) -> np.ndarray:
    """(H, W, 3) uint8 image of a frame with LiDAR points (colour = depth) and actor boxes drawn on it."""
    from PIL import Image, ImageDraw

    frame = log.frames[frame_index]
    calib = log.cameras[camera]
    image_path = log.path(frame.cameras[camera].image)
    try:
        image = Image.open(image_path).convert("RGB")
    except (OSError, ValueError, SyntaxError) as error:  # PIL: unidentified, truncated or corrupt image data
        raise InputError(f"{image_path}: camera image of frame {frame_index} cannot be decoded ({error})") from error
    draw = ImageDraw.Draw(image)
    camera_from_world = invert_pose(log.world_from_camera(frame_index, camera))
    scan_frame = _nearest_scan(log, frame_index)
    if scan_frame is not None:
        lidar_name = next(iter(log.lidars))
        points = log.load_points(scan_frame, lidar_name)[:, :3].astype(np.float64)
        # scan frame's ego -> world -> this frame's camera (the scan may be a neighbour frame's)
        to_camera = camera_from_world @ log.frames[scan_frame].world_from_ego
        cam = points @ to_camera[:3, :3].T + to_camera[:3, 3]
        cam = cam[cam[:, 2] > 1.0][::3]
        pix = cam @ calib.K.T
        u, v = pix[:, 0] / pix[:, 2], pix[:, 1] / pix[:, 2]
        inside = (u >= 0) & (u < calib.width) & (v >= 0) & (v < calib.height)
        import matplotlib

        colors = (matplotlib.colormaps["turbo"](np.clip(cam[inside, 2] / 50.0, 0, 1))[:, :3] * 255).astype(int)
        for x, y, c in zip(u[inside], v[inside], colors):
            draw.rectangle((float(x) - 1, float(y) - 1, float(x) + 1, float(y) + 1), fill=tuple(int(k) for k in c))
    for track in log.tracks:
        corners = track.corners_at(frame_index)
        if corners is None:
            continue
        cam = corners @ camera_from_world[:3, :3].T + camera_from_world[:3, 3]
        if np.any(cam[:, 2] < 0.5):
            continue
        pix = cam @ calib.K.T
        uv = pix[:, :2] / pix[:, 2:3]
        if np.all((uv[:, 0] < 0) | (uv[:, 0] >= calib.width) | (uv[:, 1] < 0) | (uv[:, 1] >= calib.height)):
            continue
        color = (255, 40, 40) if track.moving else (255, 170, 0)
        for a, b in BOX_EDGES:
            draw.line([tuple(uv[a]), tuple(uv[b])], fill=color, width=2)
        draw.text((float(uv[:, 0].min()), float(uv[:, 1].min()) - 11), track.track_id.split("_")[-1], fill=color)
    draw.text((8, 6), f"frame {frame_index}  t={frame.timestamp:.2f}s  {camera}", fill=(255, 255, 255))
    return np.asarray(image)


def _nearest_scan(log: SceneLog, frame_index: int) -> int | None:
    if not log.lidars:
        return None
    lidar_name = next(iter(log.lidars))
    with_scan = [f.index for f in log.frames if lidar_name in f.lidars]
    if not with_scan:
        return None
    return min(with_scan, key=lambda i: abs(i - frame_index))


def plot_frame_strip(log: SceneLog, path: Path, count: int = 4, camera: str | None = None) -> Path:
    """PNG of `count` evenly spaced frames stacked vertically, each with projected LiDAR and boxes."""
    from PIL import Image

    camera = camera or next(iter(log.cameras))
    frames = [f.index for f in log.frames if camera in f.cameras]
    chosen = [frames[round(k)] for k in np.linspace(0, len(frames) - 1, min(count, len(frames)))]
    rows = [annotate_frame(log, index, camera) for index in chosen]
    width = max(row.shape[1] for row in rows)
    canvas = np.zeros((sum(row.shape[0] for row in rows), width, 3), dtype=np.uint8)
    y = 0
    for row in rows:
        canvas[y : y + row.shape[0], : row.shape[1]] = row
        y += row.shape[0]
    Image.fromarray(canvas).save(path)
    return path
