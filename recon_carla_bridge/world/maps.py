"""Road networks: OpenDRIVE files loaded into the real `carla.Map`, plus the spawn points CARLA's server
would provide, and lookup of maps by town name."""
from __future__ import annotations

import math
from pathlib import Path

import carla
import numpy as np

from recon_carla_bridge.errors import InputError, MapNotFoundError
from recon_carla_bridge.paths import default_map_dirs
from recon_carla_bridge.world import native_guards

native_guards.install()  # every carla.Map built from here on validates its OpenDRIVE first

SPAWN_SPACING_M = 20.0  # distance between generated spawn points along a lane
SPAWN_HEIGHT_M = 0.3  # CARLA's spawn points sit a little above the road surface
JUNCTION_CLEARANCE_M = 8.0  # keep spawn points this far from junction entries
LANE_WIDTH_M = 3.5  # orders spawn points by the lane they lie in, counted from the logged path
RECONSTRUCTED_REACH_M = 15.0  # a place within this distance of the logged ego path was seen by the log's cameras


class ReconMap(carla.Map):
    """A `carla.Map` built client-side from OpenDRIVE, which also knows its spawn points.

    CARLA's server authors spawn points per town; OpenDRIVE has none, so they are generated along
    every driving lane (every SPAWN_SPACING_M metres, outside junctions, oriented with the lane).
    """

    def __init__(self, name: str, xodr_text: str, source: Path | None = None):
        self._source = source  # named by the OpenDRIVE validation in carla.Map.__init__ (native_guards)
        super().__init__(name, xodr_text)
        self._xodr_text = xodr_text
        self._spawn_points: list[carla.Transform] | None = None
        self._seen_path: np.ndarray | None = None  # (N, 2) CARLA x, y of the logged ego path (scenes only)

    @property
    def source(self) -> Path | None:
        """The .xodr file this map was read from, when there is one."""
        return self._source

    def set_reconstructed_path(self, path_xy: np.ndarray) -> None:
        """Mark the map as a reconstructed scene's: the log's cameras saw what lies within
        RECONSTRUCTED_REACH_M of `path_xy` ((N, 2) CARLA x, y of the logged ego path, in driving order)."""
        path = np.asarray(path_xy, dtype=float).reshape(-1, 2)
        if len(path) == 0 or not np.all(np.isfinite(path)):
            raise InputError(f"map {self.name}: the reconstructed path needs finite points, got {len(path)}")
        self._seen_path = path
        self._spawn_points = None

    def is_reconstructed(self, location: carla.Location) -> bool:
        """Whether a place lies inside the reconstruction (always True for a map without one)."""
        if self._seen_path is None:
            return True
        return bool(_path_position(self._seen_path, np.array([[location.x, location.y]]))[1][0] <= RECONSTRUCTED_REACH_M)

    def reconstructed_spawn_points(self) -> list[carla.Transform]:
        """The spawn points inside the reconstruction: the first ones of `get_spawn_points()`."""
        return [t for t in self.get_spawn_points() if self.is_reconstructed(t.location)]

    def get_spawn_points(self) -> list[carla.Transform]:
        """Recommended spawn points along the driving lanes (copies; deterministic order). On a reconstructed
        scene the points inside the reconstruction come first (where the scene looks right): those on the
        logged ego path in the order the log drove past them, then lane by lane beside it; then the others (`is_reconstructed` tells them apart)."""
        if self._spawn_points is None:
            points = _generate_spawn_points(self)
            if self._seen_path is not None and points:
                xy = np.array([[t.location.x, t.location.y] for t in points])
                along, away = _path_position(self._seen_path, xy)
                outside = away > RECONSTRUCTED_REACH_M
                lane = np.round(away / LANE_WIDTH_M)  # lanes of the logged path first, then those beside it
                points = [points[i] for i in np.lexsort((away, np.where(outside, away, along), lane, outside))]
            self._spawn_points = points
        return [carla.Transform(t.location, t.rotation) for t in self._spawn_points]

    def to_opendrive(self) -> str:
        """The OpenDRIVE text the map was built from."""
        return self._xodr_text

    def __reduce__(self):  # pickling rebuilds from the OpenDRIVE text
        return (ReconMap, (self.name, self._xodr_text, self._source))


def _path_position(path: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(arc length m along `path` (N, 2) of each point's nearest path point, distance m to the path) of
    `points` (P, 2)."""
    if len(path) == 1:
        return np.zeros(len(points)), np.linalg.norm(points - path[0], axis=1)
    start, segment = path[:-1], np.diff(path, axis=0)  # (S, 2)
    length = np.maximum((segment ** 2).sum(axis=1), 1e-12)
    share = np.clip(((points[:, None, :] - start[None]) * segment[None]).sum(axis=2) / length, 0.0, 1.0)  # (P, S)
    distance = np.linalg.norm(points[:, None, :] - (start[None] + share[..., None] * segment[None]), axis=2)
    nearest = distance.argmin(axis=1)
    cumulative = np.concatenate([[0.0], np.cumsum(np.sqrt(length))])
    rows = np.arange(len(points))
    along = cumulative[nearest] + share[rows, nearest] * np.sqrt(length[nearest])
    return along, distance[rows, nearest]


def _generate_spawn_points(wmap: carla.Map) -> list[carla.Transform]:
    spawn_points: list[carla.Transform] = []
    for waypoint in wmap.generate_waypoints(SPAWN_SPACING_M):
        if waypoint.is_junction or waypoint.lane_type != carla.LaneType.Driving:
            continue
        ahead = waypoint.next(JUNCTION_CLEARANCE_M)
        if not ahead or any(w.is_junction for w in ahead):
            continue
        transform = waypoint.transform
        location = carla.Location(transform.location.x, transform.location.y, transform.location.z + SPAWN_HEIGHT_M)
        rotation = carla.Rotation(pitch=0.0, yaw=transform.rotation.yaw, roll=0.0)
        spawn_points.append(carla.Transform(location, rotation))
    # Lane-section boundaries can yield two points at one place: keep points >= 3 m apart.
    kept: list[carla.Transform] = []
    grid: dict[tuple[int, int], list[carla.Location]] = {}
    for candidate in spawn_points:
        loc = candidate.location
        cell = (int(loc.x // 3.0), int(loc.y // 3.0))
        neighbours = [
            other
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
            for other in grid.get((cell[0] + dx, cell[1] + dy), [])
        ]
        if all(math.hypot(loc.x - o.x, loc.y - o.y) >= 3.0 for o in neighbours):
            kept.append(candidate)
            grid.setdefault(cell, []).append(loc)
    return kept


def available_maps(map_dirs: list[Path] | None = None) -> dict[str, Path]:
    """Town name -> .xodr path for every map in the search folders (first folder wins)."""
    found: dict[str, Path] = {}
    for folder in map_dirs if map_dirs is not None else default_map_dirs():
        if not Path(folder).is_dir():
            continue
        for path in sorted(Path(folder).glob("*.xodr")):
            found.setdefault(path.stem, path)
    return found


def find_map_file(map_name: str, map_dirs: list[Path] | None = None) -> Path:
    """The .xodr for a town name ('Town01', '/Game/Carla/Maps/Town01', 'Town01_Opt') or a path."""
    as_path = Path(map_name)
    if as_path.suffix == ".xodr":
        if not as_path.is_file():
            raise MapNotFoundError(f"OpenDRIVE file not found: {as_path}")
        return as_path
    town = map_name.rstrip("/").split("/")[-1]
    maps = available_maps(map_dirs)
    for candidate in (town, town.removesuffix("_Opt")):
        if candidate in maps:
            return maps[candidate]
    searched = ", ".join(str(d) for d in (map_dirs if map_dirs is not None else default_map_dirs()))
    known = ", ".join(sorted(maps)) or "none"
    raise MapNotFoundError(f"unknown map '{map_name}': no {town}.xodr in [{searched}] (available: {known})")


def load_map(map_name: str, map_dirs: list[Path] | None = None) -> ReconMap:
    """Load a town by name (or an .xodr path) into a ReconMap named like CARLA's ('Carla/Maps/Town01',
    'Carla/Maps/Town01_Opt' for the layered variant, which has the same roads)."""
    path = find_map_file(map_name, map_dirs)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read OpenDRIVE file ({error})") from None
    return ReconMap(f"Carla/Maps/{_town_name(map_name, path)}", text, path)


def _town_name(map_name: str, path: Path) -> str:
    """The name CARLA gives the loaded town: a layered 'Town01_Opt' keeps its own name on its base town's roads."""
    requested = map_name.rstrip("/").split("/")[-1]
    return requested if requested == f"{path.stem}_Opt" else path.stem
