"""Figures of a drive: a bird's-eye view of lanes, ego path and other vehicles, and the camera video."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

LANE_SAMPLE_M = 1.0


def _lane_polylines(wmap: Any) -> list[np.ndarray]:
    """Left/right edges of every driving lane as (N, 2) arrays in CARLA x, y (from generate_waypoints,
    which, unlike get_topology, also covers roads without links)."""
    import carla

    lanes: dict[tuple[int, int, int], list[Any]] = {}
    for waypoint in wmap.generate_waypoints(LANE_SAMPLE_M):
        if waypoint.lane_type == carla.LaneType.Driving:
            lanes.setdefault((waypoint.road_id, waypoint.section_id, waypoint.lane_id), []).append(waypoint)
    edges: list[np.ndarray] = []
    for points in lanes.values():
        points.sort(key=lambda w: w.s)
        for side in (-0.5, 0.5):
            edge = []
            for w in points:
                loc, right = w.transform.location, w.transform.get_right_vector()
                edge.append((loc.x + right.x * side * w.lane_width, loc.y + right.y * side * w.lane_width))
            edges.append(np.array(edge))
    return edges


def _figure(wmap: Any, trajectory: Sequence[dict], size_px: tuple[int, int]) -> tuple[Any, Any, tuple[float, float, float, float]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dpi = 100
    fig, ax = plt.subplots(figsize=(size_px[0] / dpi, size_px[1] / dpi), dpi=dpi)
    xs = [p["x"] for p in trajectory]
    ys = [p["y"] for p in trajectory]
    margin = 25.0
    bounds = (min(xs) - margin, max(xs) + margin, min(ys) - margin, max(ys) + margin)
    for edge in _lane_polylines(wmap):
        ax.plot(edge[:, 0], edge[:, 1], color="0.6", linewidth=0.8)
    ax.set_xlim(bounds[0], bounds[1])
    ax.set_ylim(bounds[3], bounds[2])  # CARLA's y points right of x: flip so the view is not mirrored
    ax.set_aspect("equal")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m] (CARLA)")
    fig.tight_layout()
    return fig, ax, bounds


def _box(ax: Any, x: float, y: float, yaw_deg: float, length: float, width: float, color: str) -> Any:
    from matplotlib.patches import Polygon

    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    corners = [(x + c * dx - s * dy, y + s * dx + c * dy)
               for dx, dy in ((length / 2, width / 2), (length / 2, -width / 2), (-length / 2, -width / 2), (-length / 2, width / 2))]
    return ax.add_patch(Polygon(corners, closed=True, facecolor=color, edgecolor="black", linewidth=0.5, alpha=0.8))


def write_bev_plot(wmap: Any, trajectory: Sequence[dict], others: Sequence[Sequence[tuple[float, float, float, float, float]]],
                   path: Path, size_px: tuple[int, int] = (900, 700)) -> None:
    """PNG: lanes, the ego's path (coloured by time), final poses of the other vehicles."""
    import matplotlib.pyplot as plt

    fig, ax, _ = _figure(wmap, trajectory, size_px)
    xs = np.array([p["x"] for p in trajectory])
    ys = np.array([p["y"] for p in trajectory])
    points = ax.scatter(xs, ys, c=[p["t"] for p in trajectory], s=4, cmap="viridis", zorder=3)
    fig.colorbar(points, ax=ax, label="time [s]")
    for x, y, yaw, length, width in others[-1] if others else []:
        _box(ax, x, y, yaw, length, width, "tab:orange")
    last = trajectory[-1]
    _box(ax, last["x"], last["y"], last["yaw"], 4.9, 2.1, "tab:blue")
    ax.set_title("ego path (blue box: final pose), other vehicles (orange)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_video(frames: Sequence[np.ndarray], wmap: Any, trajectory: Sequence[dict],
                others: Sequence[Sequence[tuple[float, float, float, float, float]]], ticks_per_frame: float, path: Path,
                fps: float, progress: bool = True) -> None:
    """MP4: each camera frame (RGB) beside a live BEV of the same instant."""
    import imageio.v2 as imageio
    import matplotlib.pyplot as plt
    from tqdm import tqdm

    if not frames:
        raise RuntimeError("no camera frames were rendered")
    height = frames[0].shape[0]
    bev_height = max(height * 2, 360)
    fig, ax, _ = _figure(wmap, trajectory, (bev_height, bev_height))
    path_line, = ax.plot([], [], color="tab:blue", linewidth=1.5)
    dynamic: list[Any] = []
    writer = imageio.get_writer(str(path), fps=fps, codec="libx264", quality=7, macro_block_size=1)
    try:
        for index, frame in enumerate(tqdm(frames, desc="demo: video", unit="frame", disable=not progress)):
            tick = min(len(trajectory) - 1, int(round((index + 1) * ticks_per_frame)) - 1)
            for artist in dynamic:
                artist.remove()
            dynamic = [_box(ax, x, y, yaw, length, width, "tab:orange") for x, y, yaw, length, width in others[tick]]
            ego = trajectory[tick]
            dynamic.append(_box(ax, ego["x"], ego["y"], ego["yaw"], 4.9, 2.1, "tab:blue"))
            path_line.set_data([p["x"] for p in trajectory[: tick + 1]], [p["y"] for p in trajectory[: tick + 1]])
            ax.set_title(f"t = {ego['t']:.1f} s   v = {ego['speed'] * 3.6:.0f} km/h")
            fig.canvas.draw()
            bev = np.asarray(fig.canvas.buffer_rgba())[:, :, :3]
            factor = max(1, bev.shape[0] // frame.shape[0])  # enlarge small camera images to the BEV's height
            camera = np.repeat(np.repeat(frame, factor, axis=0), factor, axis=1)
            rows, cols = max(camera.shape[0], bev.shape[0]), camera.shape[1] + bev.shape[1]
            canvas = np.full((rows + rows % 2, cols + cols % 2, 3), 255, np.uint8)  # H.264 wants even sizes
            canvas[: camera.shape[0], : camera.shape[1]] = camera
            canvas[: bev.shape[0], camera.shape[1]: camera.shape[1] + bev.shape[1]] = bev
            writer.append_data(canvas)
    finally:
        writer.close()
        plt.close(fig)
