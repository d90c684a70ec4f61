"""Open a reconstructed scene as a world: its road network, its logged actors, its Gaussian cameras.

`open_scene_world(scene)` builds the `carla.Map` from the scene's road.xodr (its spawn points ordered so
those inside the reconstruction come first), spawns one vehicle per logged vehicle track (box size from
the log, blueprint with the nearest length) replaying its track until a scenario or agent takes it over
(a moving one drives on along its lane when its log ends), and renders camera sensors from the Gaussians.
"""
from __future__ import annotations

import bisect
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import carla
import numpy as np

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.paths import BUNDLED_SCENE_DIRS
from recon_carla_bridge.scene.bundle import SceneBundle, load_scene_bundle
from recon_carla_bridge.scene.catalogue import find_scene, scene_folders
from recon_carla_bridge.world.client import Client as TownClient

if TYPE_CHECKING:  # pragma: no cover
    from recon_carla_bridge.recon.gaussians import ActorAsset, GaussianScene
    from recon_carla_bridge.world.maps import ReconMap
    from recon_carla_bridge.world.world import World
    from recon_carla_bridge.restore.video import VideoRestorer

BUNDLED_SCENES = BUNDLED_SCENE_DIRS  # name -> folder of the scenes shipped with the package


def resolve_scene_dir(scene: str | os.PathLike[str]) -> Path:
    """A scene folder from a catalogue name ('kitti_0013', 'kitti', a user scene) or a path."""
    named = find_scene(scene)
    if named is not None:
        return named
    path = Path(scene)
    if not path.exists():
        raise InputError(f"scene {scene!r}: no such folder (scenes by name: {', '.join(scene_folders())}; "
                         "`recon-carla scenes` lists them)")
    return path


def is_scene(name: str | os.PathLike[str]) -> bool:
    """Whether a world name designates a reconstructed scene (a catalogue name, or a folder with scene.gs)."""
    if find_scene(name) is not None:
        return True
    path = Path(name)
    return path.is_dir() and (path / "scene.gs").is_file()


@dataclass(frozen=True)
class TrackReplay:
    """A logged box trajectory, replayed in CARLA's frame at any time."""

    times: np.ndarray  # (F,) s
    locations: np.ndarray  # (F, 3) CARLA frame, ground under the box centre
    yaws: np.ndarray  # (F,) deg, CARLA, unwrapped
    hold_after_end: bool  # parked actors stay; moving ones are not shown past their log (the world drives them on)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_time_list", [float(t) for t in self.times])  # bisect on floats: per actor per tick

    def __call__(self, t: float) -> tuple[np.ndarray, np.ndarray] | None:
        """(location (3,), rotation (pitch, yaw, roll)) at time t, or None while the log does not show it."""
        times: list[float] = self._time_list  # type: ignore[attr-defined]
        if t < times[0] - 1e-6 and len(times) > 1 and not self.hold_after_end:
            return None
        if t > times[-1] + 1e-6 and not self.hold_after_end:
            return None
        t = min(max(t, times[0]), times[-1])
        upper = bisect.bisect_left(times, t)
        if upper == 0 or len(times) == 1:
            return self.locations[0].astype(float), np.array([0.0, float(self.yaws[0]), 0.0])
        lower = upper - 1
        span = times[upper] - times[lower]
        w = (t - times[lower]) / span if span > 0 else 1.0
        location = (1.0 - w) * self.locations[lower] + w * self.locations[upper]
        yaw = (1.0 - w) * float(self.yaws[lower]) + w * float(self.yaws[upper])
        return location, np.array([0.0, yaw, 0.0])


def _track_replay(asset: "ActorAsset", timestamps: np.ndarray) -> TrackReplay:
    frames = asset.frame_indices.cpu().numpy().astype(int)
    poses = asset.world_from_box.detach().cpu().numpy().astype(float)
    height = float(asset.size[2])
    times = timestamps[np.clip(frames, 0, len(timestamps) - 1)] - timestamps[0]
    locations = np.stack([poses[:, 0, 3], -poses[:, 1, 3], poses[:, 2, 3] - height / 2.0], axis=1)
    yaws = -np.degrees(np.unwrap(np.arctan2(poses[:, 1, 0], poses[:, 0, 0])))
    return TrackReplay(times, locations, yaws, hold_after_end=not asset.moving)


@functools.lru_cache(maxsize=1)
def _four_wheeler_lengths() -> tuple[tuple[str, float], ...]:
    """(blueprint id, length m) of the four-wheeled vehicles of a world's library, in library order (every world's
    library holds the same blueprints: `blueprints.build_blueprint_library`)."""
    from recon_carla_bridge.world.blueprints import build_blueprint_library

    return tuple((bp.id, bp.spec.length) for bp in build_blueprint_library().filter("vehicle.*")
                 if bp.get_attribute("number_of_wheels").as_int() == 4)


@functools.lru_cache(maxsize=4)
def _logged_replays(scene_file: str, mtime_ns: int, size: int, device: str,
                    timestamps: tuple[float, ...]) -> dict[int, TrackReplay]:
    """The logged vehicles' replays of a scene file version (`prepared_gaussians`' key) over the bundle's frame
    `timestamps`, built once per process (a replay is read-only)."""
    gaussians = prepared_gaussians(scene_file, mtime_ns, size, device)
    frame_times = np.asarray(timestamps, dtype=float)
    return {track_id: _track_replay(asset, frame_times) for track_id, asset in sorted(gaussians.actors.items())
            if asset.category == "vehicle" and asset.frame_indices.numel() > 0}


def _nearest_blueprint(library: carla.BlueprintLibrary, candidates: list[tuple[str, float]],
                       length: float) -> carla.ActorBlueprint:
    """A copy of the candidate blueprint whose length is nearest `length` (the first of equals)."""
    return library.find(min(candidates, key=lambda candidate: abs(candidate[1] - length))[0])


@functools.lru_cache(maxsize=2)
def prepared_gaussians(scene_file: str, mtime_ns: int, size: int, device: str) -> "GaussianScene":
    """The Gaussians of a scene file as worlds draw them, loaded once per file version and device (each
    route of an evaluation opens the world afresh; the renderers only read the scene).

    Simulation moves actors away from their logged poses: each actor's Gaussians are kept in its box and
    no copy of it stays in the background, so nothing is left behind (no ghosts)."""
    from recon_carla_bridge.recon.gaussians import prune_actor_outliers, prune_background_in_actor_boxes
    from recon_carla_bridge.recon.scene_file import load_scene

    gaussians, _ = prune_actor_outliers(load_scene(scene_file, device=device))
    return prune_background_in_actor_boxes(gaussians)[0]


def _scene_restorer(bundle: SceneBundle, device: str) -> "VideoRestorer | None":
    """The bundle's restorer as a per-camera video filter, or None when the bundle names none."""
    if bundle.restorer_dir is None:
        return None
    from recon_carla_bridge.restore import Restorer
    from recon_carla_bridge.restore.video import VideoRestorer

    return VideoRestorer(Restorer.load(bundle.restorer_dir, device))


def scene_map(scene: str | os.PathLike[str], bundle: SceneBundle | None = None) -> "ReconMap":
    """The road network of a reconstructed scene, named as it was asked for ('kitti', so ScenarioRunner's
    and the evaluator's town checks pass), knowing which places the reconstruction covers."""
    from recon_carla_bridge.world.maps import ReconMap

    bundle = bundle or load_scene_bundle(resolve_scene_dir(scene))
    try:
        xodr = bundle.road_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{bundle.road_file}: cannot read ({error})") from None
    map_name = str(scene) if find_scene(scene) is not None else Path(scene).name
    wmap = ReconMap(map_name, xodr, bundle.road_file)
    poses = bundle.world_from_ego
    wmap.set_reconstructed_path(np.stack([poses[:, 0, 3], -poses[:, 1, 3]], axis=1))  # CARLA x, y
    return wmap


def load_place_map(name: str | os.PathLike[str]) -> "ReconMap":
    """The one map loader: a reconstructed scene's road network (bundled name or folder) or a town's
    OpenDRIVE map ('Town01', 'Town01_Opt', an .xodr path); MapNotFoundError naming it otherwise."""
    from recon_carla_bridge.world.maps import load_map

    return scene_map(name) if is_scene(name) else load_map(str(name))


def place_exists(name: str) -> bool:
    """Whether `load_place_map(name)` finds a map (a scene, or a town in the map folders)."""
    from recon_carla_bridge.errors import MapNotFoundError
    from recon_carla_bridge.world.maps import find_map_file

    if is_scene(name):
        return True
    try:
        find_map_file(name)
    except MapNotFoundError:
        return False
    return True


def open_scene_world(scene: str | os.PathLike[str], seed: int = 0, render_backend: str = "auto",
                     use_restorer: bool = True, road_map: "ReconMap | None" = None) -> "World":
    """The world of a reconstructed scene (see module docstring). When the bundle names a restorer and
    `use_restorer` is on, rgb cameras apply it (InputError when its files are missing or unreadable; pass
    use_restorer=False to run splat-only). `road_map`: the scene's map as `scene_map` gave it, shared with other
    worlds of the scene (they only read it, as worlds of a town share its map); None parses the road network."""
    from recon_carla_bridge.scene.splat_backend import SplatBackend
    from recon_carla_bridge.world.simulation import APPEARANCE_ATTRIBUTE
    from recon_carla_bridge.world.world import World

    bundle = load_scene_bundle(resolve_scene_dir(scene))
    world = World(road_map if road_map is not None else scene_map(scene, bundle), seed=seed)
    from recon_carla_bridge.recon.render import choose_backend

    device = "cuda" if choose_backend(render_backend) == "gsplat" else "cpu"  # keep the Gaussians where they render
    file = bundle.scene_file
    stat = file.stat()
    gaussians = prepared_gaussians(str(file.resolve()), stat.st_mtime_ns, stat.st_size, device)
    backend = SplatBackend(gaussians, render_backend, _scene_restorer(bundle, device) if use_restorer else None)
    sim = world.simulation
    sim.camera_backend = backend
    library = world.get_blueprint_library()
    four_wheelers = list(_four_wheeler_lengths())
    replays = _logged_replays(str(file.resolve()), stat.st_mtime_ns, stat.st_size, device,
                              tuple(float(t) for t in bundle.timestamps))
    for track_id, replay in replays.items():
        asset = gaussians.actors[track_id]
        start = replay(replay.times[0])
        assert start is not None
        blueprint = _nearest_blueprint(library, four_wheelers, float(asset.size[0]))
        blueprint.set_attribute("role_name", f"log_{track_id}")
        location, rotation = start
        transform = carla.Transform(carla.Location(*map(float, location)), carla.Rotation(yaw=float(rotation[1])))
        actor_id = sim.spawn(blueprint, transform, check_overlap=False)
        state = sim.state_of(actor_id)
        state.half_extents = np.asarray(asset.size, dtype=float) / 2.0
        state.box_center = np.array([0.0, 0.0, float(asset.size[2]) / 2.0])
        state.attributes[APPEARANCE_ATTRIBUTE] = track_id  # drawn with its own Gaussians
        sim.set_replay(actor_id, replay, drive_after=None if replay.hold_after_end else float(replay.times[-1]))
        state.location, state.rotation = location.copy(), rotation.copy()
        if not asset.moving or replay.times[0] > 0.0:
            hidden = replay(0.0)
            if hidden is None:
                state.location[2] = -500.0
    world.scene_bundle = bundle  # type: ignore[attr-defined]
    world.gaussian_scene = gaussians  # type: ignore[attr-defined]
    return world


def ego_start_transform(bundle: SceneBundle, frame: int = 0) -> carla.Transform:
    """Where the logged ego was at `frame`, as a spawn transform (on the ground, CARLA frame)."""
    from recon_carla_bridge.scene.frames import scene_pose_to_carla

    transform = scene_pose_to_carla(bundle.world_from_ego[frame])
    transform.rotation = carla.Rotation(yaw=transform.rotation.yaw)
    return transform


def logged_camera_transform(bundle: SceneBundle, camera: str | None = None) -> tuple[str, carla.Transform, float, int, int]:
    """(name, attach transform on the ego, fov deg, width, height) of a logged camera (the first by default)."""
    from recon_carla_bridge.scene.frames import camera_mount_to_carla, intrinsics_fov_deg

    if not bundle.cameras:
        raise InputError(f"{bundle.root}: the scene has no camera")
    name = camera or sorted(bundle.cameras)[0]
    if name not in bundle.cameras:
        raise InputError(f"camera {name!r} not in the scene (have {', '.join(sorted(bundle.cameras))})")
    calib = bundle.cameras[name]
    return name, camera_mount_to_carla(calib.ego_from_camera), intrinsics_fov_deg(calib.K, calib.width), calib.width, calib.height


class Client(TownClient):
    """Drop-in for `carla.Client(host, port)` (`recon_carla_bridge.Client`): the world is simulated in this
    process, over CARLA towns and reconstructed scenes.

    Extra keyword arguments choose what to open: `town` (a town name found in `map_dirs`), `scene` (a
    reconstructed scene folder or the bundled scene name, opened with its Gaussians, road network and
    logged actors), `map_dirs` (folders of `<Town>.xodr`), `seed`. `load_world` opens towns and scenes.
    """

    def __init__(self, host: str = "localhost", port: int = 2000, worker_threads: int = 0, *,
                 town: str | None = None, scene: str | os.PathLike[str] | None = None,
                 map_dirs: list[str | os.PathLike[str]] | None = None, seed: int = 0):
        super().__init__(host, port, worker_threads, town=town, map_dirs=map_dirs, seed=seed)
        self._scene = scene

    def _open_initial(self) -> "World":
        if self._scene is not None:
            return open_scene_world(self._scene, seed=self._seed)
        return super()._open_initial()

    def _open_named(self, map_name: str) -> "World | None":
        return open_scene_world(map_name, seed=self._seed) if is_scene(map_name) else None

    def get_available_maps(self) -> list[str]:
        """Map paths as CARLA lists them ('/Game/Carla/Maps/Town01', …), then the bundled scenes."""
        scenes = sorted(name for name, folder in scene_folders().items() if (folder / "scene.gs").is_file())
        return super().get_available_maps() + scenes
