"""Road networks: OpenDRIVE files loaded into the real `carla.Map`, plus the spawn points CARLA's server
would provide, and lookup of maps by town name."""
from __future__ import annotations

import math
from pathlib import Path

import carla

from recon_carla_bridge.errors import InputError, MapNotFoundError
from recon_carla_bridge.paths import default_map_dirs
from recon_carla_bridge.world import native_guards

native_guards.install()  # every carla.Map built from here on validates its OpenDRIVE first

SPAWN_SPACING_M = 20.0  # distance between generated spawn points along a lane
SPAWN_HEIGHT_M = 0.3  # CARLA's spawn points sit a little above the road surface
JUNCTION_CLEARANCE_M = 8.0  # keep spawn points this far from junction entries


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

    @property
    def source(self) -> Path | None:
        """The .xodr file this map was read from, when there is one."""
        return self._source

    def get_spawn_points(self) -> list[carla.Transform]:
        """Recommended spawn points along the driving lanes (copies; deterministic order)."""
        if self._spawn_points is None:
            self._spawn_points = _generate_spawn_points(self)
        return [carla.Transform(t.location, t.rotation) for t in self._spawn_points]

    def to_opendrive(self) -> str:
        """The OpenDRIVE text the map was built from."""
        return self._xodr_text

    def __reduce__(self):  # pickling rebuilds from the OpenDRIVE text
        return (ReconMap, (self.name, self._xodr_text, self._source))


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
