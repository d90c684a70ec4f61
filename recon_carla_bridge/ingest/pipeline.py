"""The ingest pipeline: read a log, estimate what it lacks, build its road, write a SceneLog folder.

    reader -> RawLog -> ego poses (log's, else LiDAR odometry + SE(3) interpolation)
           -> SceneLog world frame -> tracks (log's, else LiDAR detection + tracking)
           -> reprojection check -> road network (OpenDRIVE, checked in carla.Map)
           -> SCENE_DIR written in a temporary folder and renamed into place
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.ingest.detection import DetectionConfig, detect_in_obstacles, fit_top_beam, looks_like_vehicle, thinned_obstacles
from recon_carla_bridge.ingest.extension import SupportScan, support_scan
from recon_carla_bridge.ingest.persistence import OccupancyHistory, PersistenceConfig
from recon_carla_bridge.ingest.odometry import OdometryConfig, fill_poses, lidar_odometry
from recon_carla_bridge.ingest.rawlog import RawLog
from recon_carla_bridge.ingest.readers import get_reader
from recon_carla_bridge.ingest.reprojection import ReprojectionConfig, ReprojectionReport, reprojection_check
from recon_carla_bridge.ingest.scenelog import (
    ROAD_FILE_NAME,
    ActorBox,
    ActorTrack,
    CameraFrame,
    Frame,
    GeoReference,
    LidarScan,
    SceneLog,
    wrap_angle,
    write_scene_json,
)
from recon_carla_bridge.ingest.se3 import yaw_of
from recon_carla_bridge.ingest.static_vehicles import StaticVehicleConfig, static_track_verdict
from recon_carla_bridge.ingest.staging import staged_directory
from recon_carla_bridge.ingest.tracking import TrackingConfig, remove_duplicates, to_world, track_vehicles
from recon_carla_bridge.ingest.world_frame import normalise_poses
from recon_carla_bridge.roadnet.centerline import Centerline
from recon_carla_bridge.roadnet.scene_road import RoadNetConfig, build_scene_road, road_line
from recon_carla_bridge.roadnet.surface import RoadSurface, ground_cells, surface_along_path

REPORT_FILE_NAME = "ingest_report.json"
MOVING_GATE_M = 6.0
SIGHT_BLOCKING_HEIGHT_M = 1.2  # lower structure (a low hedge) does not block the LiDAR's view of a car beyond it
GROUND_SEARCH_TOP_M = 1.5  # ego-frame points higher than this are not looked at for the road surface
DEFAULT_GEO_REFERENCE = GeoReference(0.0, 0.0, 0.0, "unknown: the log carries no position on Earth")


@dataclass(frozen=True)
class IngestConfig:
    """Settings of one ingest.

    Attributes:
        voxel: LiDAR points stored in the SceneLog are thinned to one per voxel of this size [m]; None
            keeps every point.
        lidar_max_range: stored points farther than this from the ego are dropped [m].
        estimate_tracks: detect and track vehicles in the LiDAR when the log has no boxes.
        overwrite: replace an existing output folder.
        show_progress: draw progress bars on stderr.
        odometry: LiDAR odometry settings.
        detection: single-scan detector settings.
        tracking: tracker settings (static objects).
        moving_tracking: tracker settings of moving vehicles (a wider gate: an oncoming car moves ~3 m
            between 5 Hz scans, and its first step has no velocity to predict it).
        persistence: static-or-moving test settings.
        static_vehicles: parked-vehicle test settings.
        reprojection: reprojection check settings.
        roadnet: road network settings.
    """

    voxel: float | None = 0.12
    lidar_max_range: float = 60.0
    estimate_tracks: bool = True
    overwrite: bool = False
    show_progress: bool = True
    odometry: OdometryConfig = field(default_factory=OdometryConfig)
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    moving_tracking: TrackingConfig = field(default_factory=lambda: TrackingConfig(gate=MOVING_GATE_M))
    persistence: PersistenceConfig = field(default_factory=PersistenceConfig)
    static_vehicles: StaticVehicleConfig = field(default_factory=StaticVehicleConfig)
    reprojection: ReprojectionConfig = field(default_factory=ReprojectionConfig)
    roadnet: RoadNetConfig = field(default_factory=RoadNetConfig)


@dataclass(frozen=True)
class IngestReport:
    """Numbers measured during an ingest (also written to SCENE_DIR/ingest_report.json).

    Attributes:
        source: reader name.
        frames: frames in the SceneLog.
        scans: LiDAR sweeps.
        images: camera images.
        poses_from: "log" or "lidar odometry".
        trajectory_length_m: length of the ego path [m].
        max_step_m: largest ego displacement between consecutive frames [m].
        tracks: actor tracks.
        moving_tracks: tracks flagged moving.
        tracks_from: "log", "lidar" or "none".
        track_evidence: what the LiDAR track estimate found and left undecided (tracks from "lidar").
        reprojection: static-point reprojection check, when the log has a camera and LiDAR.
        lane_width_m: lane width of the road network [m].
        lanes: driving lanes of the road network.
        ego_in_lane_fraction: share of frames whose ego position is in a driving lane of carla.Map.
        seconds: wall time of the ingest [s].
    """

    source: str
    frames: int
    scans: int
    images: int
    poses_from: str
    trajectory_length_m: float
    max_step_m: float
    tracks: int
    moving_tracks: int
    tracks_from: str
    track_evidence: TrackEvidence | None
    reprojection: ReprojectionReport | None
    lane_width_m: float
    lanes: int
    ego_in_lane_fraction: float
    seconds: float


def _progress(items: list, description: str, config: IngestConfig) -> Iterator:
    return iter(tqdm(items, desc=description, disable=not config.show_progress, leave=False, unit="frame"))


def _scan_frames(raw: RawLog) -> list[int]:
    return [i for i, frame in enumerate(raw.frames) if frame.scans]


def _load_scans(raw: RawLog, config: IngestConfig) -> dict[int, np.ndarray]:
    """First LiDAR's sweep per frame that has one (ego frame, float32 (N, 4))."""
    if not raw.lidars:
        return {}
    lidar = next(iter(raw.lidars))
    return {i: raw.frames[i].scans[lidar].load() for i in _progress(_scan_frames(raw), "read LiDAR", config) if lidar in raw.frames[i].scans}


def estimate_poses(raw: RawLog, scans: dict[int, np.ndarray], config: IngestConfig) -> tuple[list[np.ndarray], str]:
    """world_from_ego per frame from the log, else from LiDAR odometry; and where they came from."""
    times = np.array([frame.timestamp for frame in raw.frames])
    if raw.has_poses:
        return [np.asarray(frame.world_from_ego, dtype=np.float64) for frame in raw.frames], "log"
    if len(scans) == 0:
        raise InputError(f"{raw.name}: the log has no ego poses and no LiDAR scans to estimate them from")
    order = sorted(scans)
    bar = tqdm(total=len(order), desc="LiDAR odometry", disable=not config.show_progress, leave=False, unit="scan")
    odometry = lidar_odometry([scans[i] for i in order], config.odometry, progress=lambda _: bar.update(1))
    bar.close()
    return fill_poses(times, dict(zip(order, odometry))), "lidar odometry (KISS-ICP), SE(3)-interpolated between scans"


def tracks_to_world(tracks: list[ActorTrack], poses: list[np.ndarray]) -> list[ActorTrack]:
    """Tracks whose boxes are in their frame's ego frame, moved to the world; moving decided by motion."""
    result = []
    for track in tracks:
        boxes = []
        for box in track.boxes:
            pose = poses[box.frame_index]
            center = pose[:3, :3] @ box.center + pose[:3, 3]
            boxes.append(ActorBox(box.frame_index, center, wrap_angle(box.yaw + yaw_of(pose))))
        start, end = boxes[0].center[:2], boxes[-1].center[:2]
        moving = track.moving or bool(np.linalg.norm(end - start) > 1.0)
        result.append(ActorTrack(track.track_id, track.category, track.size.copy(), moving, boxes))
    return result


@dataclass(frozen=True)
class TrackEvidence:
    """What the LiDAR track estimate found and could not decide (written to the ingest report).

    Attributes:
        detections: vehicle-shaped clusters over all scans.
        static_detections: ... whose cells stay filled in the neighbouring scans (static structure or
            parked vehicles).
        moving_tracks: tracks of the other detections that move like vehicles.
        parked_tracks: static tracks that look like parked cars.
        static_rejected: static tracks not kept, by reason.
        undecided: how many of them the LiDAR alone cannot decide, and why (left in the background).
    """

    detections: int
    static_detections: int
    moving_tracks: int
    parked_tracks: int
    static_rejected: dict[str, int]
    undecided: str


def measure_road_surface(scans: dict[int, np.ndarray], poses: list[np.ndarray], line: Centerline, config: IngestConfig) -> RoadSurface | None:
    """The carriageways in the LiDAR ground along the ego lane's `line` (None without LiDAR)."""
    if not scans:
        return None
    order = sorted(scans)
    world_scans = []
    for i in order:
        # the ground lies within the surface finder's range and below the sensor (ego z = 0 is the road)
        points = scans[i]
        near = (np.hypot(points[:, 0], points[:, 1]) < config.roadnet.surface.max_range) & (points[:, 2] < GROUND_SEARCH_TOP_M)
        # einsum, not a BLAS product: a (N, 3) x (3, 3) product gains nothing from threads and suffers on a busy machine
        xyz = np.einsum("ij,nj->ni", poses[i][:3, :3], points[near, :3].astype(np.float64)) + poses[i][:3, 3]
        world_scans.append(np.c_[xyz, points[near, 3]])
    ground = ground_cells(world_scans, np.array([poses[i][:2, 3] for i in order]), config.roadnet.surface)
    positions = np.array([pose[:3, 3] for pose in poses])
    return surface_along_path(positions, ground, line, config.roadnet.surface)


def estimate_tracks(
    scans: dict[int, np.ndarray],
    poses: list[np.ndarray],
    times: np.ndarray,
    config: IngestConfig,
    road: tuple[Centerline, RoadSurface] | None = None,
) -> tuple[list[ActorTrack], TrackEvidence]:
    """Vehicle tracks from LiDAR detections in every scan (with the LiDAR's top beam fitted over all of
    them, to tell clusters cut off at the top). Detections whose space stays filled in the neighbouring
    scans (`ingest/persistence.py`) are static: their tracks are kept only when they look like parked cars
    (`ingest/static_vehicles.py`); the others are tracked as moving vehicles with a gate wide enough for
    oncoming traffic, and kept when they move. A track of static detections that drifts is a slow vehicle
    when it leaves empty space behind and, with the measured `road` (line, surface), stays on a
    carriageway."""
    top_beam = fit_top_beam(scans.values())
    per_scan = []
    obstacles_xy = []
    barrier_xy = []
    support: list[SupportScan] = []
    order = sorted(scans)
    for i in _progress(order, "detect vehicles", config):
        obstacles, ground = thinned_obstacles(scans[i], config.detection)
        detections = [d for d in detect_in_obstacles(obstacles, ground, config.detection, top_beam) if looks_like_vehicle(d)]
        per_scan.append(to_world(detections, poses[i], i, float(times[i])))
        obstacles_xy.append(obstacles[:, :2] @ poses[i][:2, :2].T + poses[i][:2, 3])
        tall = obstacles[obstacles[:, 2] - ground >= SIGHT_BLOCKING_HEIGHT_M]
        barrier_xy.append(tall[:, :2] @ poses[i][:2, :2].T + poses[i][:2, 3])
        support.append(support_scan(obstacles, ground, poses[i], i, float(times[i])))
    history = OccupancyHistory(obstacles_xy, times[order], np.array([poses[i][:2, 3] for i in order]), config.persistence, barrier_xy)
    static_scans, moving_scans = [], []
    for detections in per_scan:
        static = [history.persistence(d.footprint, d.time)[0] >= config.persistence.static_share for d in detections]
        static_scans.append([d for d, s in zip(detections, static) if s])
        moving_scans.append([d for d, s in zip(detections, static) if not s])
    verdicts: dict[str, int] = {}

    def parked(track: ActorTrack, dets: list) -> bool:
        verdict = static_track_verdict(track, dets, history, config.static_vehicles, road)
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
        return verdict == "vehicle"

    moving = track_vehicles(moving_scans, times, order, config.moving_tracking, support, keep=lambda track, _: track.moving)
    still = track_vehicles(static_scans, times, order, config.tracking, support, keep=parked)
    for prefix, group in (("moving", moving), ("static", still)):
        for track in group:
            track.track_id = f"{prefix}_{track.track_id}"
    # A slow vehicle may be tracked in both sets (some scans found it static, others not): keep the track
    # with more boxes.
    tracks = remove_duplicates(moving + still, {t.track_id: len(t.boxes) for t in moving + still}, config.tracking.duplicate_min_shared_frames)
    for number, track in enumerate(tracks):
        track.track_id = f"vehicle_{number:03d}"
    evidence = TrackEvidence(
        detections=sum(len(d) for d in per_scan),
        static_detections=sum(len(d) for d in static_scans),
        moving_tracks=len(moving),
        parked_tracks=len(still),
        static_rejected={reason: count for reason, count in sorted(verdicts.items()) if reason != "vehicle"},
        undecided=(
            f"{verdicts.get('too tall', 0)} static objects about 2 m tall or more stand off the lanes: a parked van, a "
            "hedge, a wall and a fence look alike to the LiDAR alone, so they are left in the background, not tracked"
        ),
    )
    return tracks, evidence


def _thin(points: np.ndarray, config: IngestConfig) -> np.ndarray:
    keep = np.linalg.norm(points[:, :2], axis=1) < config.lidar_max_range
    points = points[keep]
    if config.voxel:
        keys = np.floor(points[:, :3] / config.voxel).astype(np.int64)
        _, first = np.unique(keys, axis=0, return_index=True)
        points = points[np.sort(first)]
    return np.ascontiguousarray(points, dtype=np.float32)


def _path_stats(poses: list[np.ndarray]) -> tuple[float, float]:
    positions = np.array([pose[:3, 3] for pose in poses])
    steps = np.linalg.norm(np.diff(positions, axis=0), axis=1) if len(positions) > 1 else np.zeros(1)
    return float(steps.sum()), float(steps.max())


def ingest(source_format: str, src: Path, out: Path, config: IngestConfig = IngestConfig()) -> tuple[SceneLog, IngestReport]:
    """Turn the log at `src` (format `source_format`) into a SceneLog folder at `out`.

    Everything is read and checked before anything is written; the folder is built in a temporary
    sibling and renamed to `out` only when complete. Raises InputError for bad input.
    """
    started = time.perf_counter()
    out = Path(out)
    if out.exists() and not config.overwrite:
        raise InputError(f"{out}: output folder already exists (pass --overwrite to replace it)")
    raw = get_reader(source_format)(Path(src))
    if not raw.frames:
        raise InputError(f"{src}: the log has no frames")
    scans = _load_scans(raw, config)
    times = np.array([frame.timestamp for frame in raw.frames])
    source_poses, poses_from = estimate_poses(raw, scans, config)
    poses, _ = normalise_poses(source_poses)

    evidence: TrackEvidence | None = None
    positions = np.array([pose[:3, 3] for pose in poses])
    yaws = np.array([yaw_of(pose) for pose in poses])
    line = road_line(positions, yaws, config.roadnet)
    surface = measure_road_surface(scans, poses, line, config)
    if raw.tracks is not None:
        tracks, tracks_from = tracks_to_world(raw.tracks, poses), "log"
    elif config.estimate_tracks and scans:
        tracks, evidence = estimate_tracks(scans, poses, times, config, (line, surface) if surface is not None else None)
        tracks_from = "lidar"
    else:
        tracks, tracks_from = [], "none"

    camera_name = next(iter(raw.cameras), None)
    images: dict[int, np.ndarray] = {}
    reprojection = None
    if camera_name is not None and scans and raw.source == "kitti":
        # Ring-ordered raw scans are needed for depth edges: KITTI's are.
        wanted = {i + k for i in scans for k in config.reprojection.frame_offsets}
        for i in _progress(sorted(wanted), "reprojection check", config):
            if i < len(raw.frames) and camera_name in raw.frames[i].images:
                images[i] = np.asarray(raw.frames[i].images[camera_name].load())
        reprojection = reprojection_check(scans, images, poses, raw.cameras[camera_name], tracks, config.reprojection)

    geo = raw.geo_reference or DEFAULT_GEO_REFERENCE
    road = build_scene_road(raw.name, positions, yaws, tracks, geo, config.roadnet, surface)

    length, max_step = _path_stats(poses)
    provenance = dict(raw.provenance)
    provenance["ego_poses"] = poses_from if poses_from != "log" else provenance.get("ego_poses", "log")
    provenance["tracks"] = {"log": provenance.get("tracks", "log"), "lidar": "LiDAR detection (ground removal, DBSCAN, L-shape boxes); static or moving by whether the cells a detection fills stay filled in the neighbouring scans; moving: Hungarian tracking with a wide gate, tracklet linking, RTS smoothing, kept when they move; static: kept when they look like parked cars (height, footprint of all views, not behind a fence or wall)", "none": "none"}[tracks_from]
    provenance["road_network"] = road.layout.evidence

    with staged_directory(out, overwrite=config.overwrite) as staging:
        frames: list[Frame] = []
        image_count = scan_count = 0
        for i in _progress(list(range(len(raw.frames))), "write scene", config):
            source_frame = raw.frames[i]
            frame = Frame(index=i, timestamp=float(times[i]), world_from_ego=poses[i])
            for name, image_source in source_frame.images.items():
                (staging / "images" / name).mkdir(parents=True, exist_ok=True)
                stored = image_source.store(staging / "images" / name / f"{i:06d}")
                relative = stored.relative_to(staging).as_posix()
                frame.cameras[name] = CameraFrame(name, relative, float(times[i]))
                image_count += 1
            for name, scan_source in source_frame.scans.items():
                points = scans[i] if (i in scans and name == next(iter(raw.lidars))) else scan_source.load()
                points = _thin(points, config)
                relative = f"lidar/{name}/{i:06d}.npy"
                (staging / relative).parent.mkdir(parents=True, exist_ok=True)
                np.save(staging / relative, points)
                frame.lidars[name] = LidarScan(name, relative, float(times[i]), len(points))
                scan_count += 1
            frames.append(frame)
        (staging / ROAD_FILE_NAME).write_text(road.xodr, encoding="utf-8")
        log = SceneLog(
            name=raw.name,
            source=raw.source,
            ego_origin=raw.ego_origin,
            ego_size=raw.ego_size,
            cameras=raw.cameras,
            lidars=raw.lidars,
            frames=frames,
            tracks=tracks,
            geo_reference=geo,
            road_network=ROAD_FILE_NAME,
            provenance=provenance,
            root=staging,
        )
        write_scene_json(log, staging)
        report = IngestReport(
            source=raw.source,
            frames=len(frames),
            scans=scan_count,
            images=image_count,
            poses_from=poses_from,
            trajectory_length_m=length,
            max_step_m=max_step,
            tracks=len(tracks),
            moving_tracks=sum(t.moving for t in tracks),
            tracks_from=tracks_from,
            track_evidence=evidence,
            reprojection=reprojection,
            lane_width_m=road.layout.lane_width,
            lanes=road.layout.driving_lanes,
            ego_in_lane_fraction=road.lane_check.fraction,
            seconds=time.perf_counter() - started,
        )
        (staging / REPORT_FILE_NAME).write_text(json.dumps(asdict(report), indent=1), encoding="utf-8")
    log.root = out
    return log, report
