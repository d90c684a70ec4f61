"""`Client`: a `carla.Client` subclass that needs no server, over CARLA towns (OpenDRIVE maps).

`recon_carla_bridge.Client` is its subclass in `recon_carla_bridge.scene.scene_world`, which also opens
reconstructed scenes; this one knows nothing of scenes (`_open_named` is the hook it overrides).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import carla

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.world import commands, native_guards
from recon_carla_bridge.world.maps import ReconMap, available_maps, load_map
from recon_carla_bridge.world.traffic_manager import TrafficManager
from recon_carla_bridge.world.world import World

CARLA_VERSION = "0.9.16"
DEFAULT_TOWN = "Town10HD"  # the map a fresh CARLA 0.9.16 server opens

commands.install()
native_guards.install()


class Client(carla.Client):
    """Drop-in for `carla.Client(host, port)`: the world is simulated in this process.

    Extra keyword arguments choose what to open: `town` (a town name found in `map_dirs`),
    `map_dirs` (folders of `<Town>.xodr`), `seed`.
    """

    def __init__(self, host: str = "localhost", port: int = 2000, worker_threads: int = 0, *,
                 town: str | None = None, map_dirs: Sequence[str | Path] | None = None, seed: int = 0):
        self._host, self._port = host, int(port)
        self._timeout = 10.0
        self._map_dirs = [Path(p) for p in map_dirs] if map_dirs is not None else None
        self._seed = seed
        self._world: World | None = None
        self._initial_town = town

    # ---- worlds ------------------------------------------------------------------------------
    def get_world(self) -> World:
        """The current world (opened on first use: the town asked for, or the default town)."""
        if self._world is None:
            self._world = self._open_initial()
        return self._world

    def _open_initial(self) -> World:
        """The world opened on first use."""
        return World(load_map(self._initial_town or self._default_town(), self._map_dirs), seed=self._seed)

    def _open_named(self, map_name: str) -> World | None:
        """A world for a name that is not a town (subclasses open other places), or None."""
        return None

    def _default_town(self) -> str:
        maps = available_maps(self._map_dirs)
        if DEFAULT_TOWN in maps:
            return DEFAULT_TOWN
        if not maps:
            raise InputError("no OpenDRIVE maps found: pass map_dirs= or set RECON_CARLA_MAP_DIRS")
        return sorted(maps)[0]

    def load_world(self, map_name: str, reset_settings: bool = True, map_layers: Any = None) -> World:
        """Open a town by name ('Town01', '/Game/Carla/Maps/Town01'), or another place a subclass knows (a
        reconstructed scene for `recon_carla_bridge.Client`); MapNotFoundError naming it otherwise."""
        if not isinstance(map_name, (str, Path)) or not str(map_name).strip():
            raise InputError(f"load_world: expected a map name such as 'Town01' (or a scene), got {map_name!r}")
        map_name = str(map_name)
        other = self._open_named(map_name)
        if other is not None:
            return self._replace_world(other, reset_settings)
        wmap = load_map(map_name, self._map_dirs)
        return self._replace_world(World(wmap, seed=self._seed), reset_settings)

    def load_world_if_different(self, map_name: str, reset_settings: bool = True, map_layers: Any = None) -> World | None:
        """Open the town unless it is already open (then return None, as CARLA)."""
        current = self._world.get_map().name.split("/")[-1] if self._world is not None else None
        if current == map_name.rstrip("/").split("/")[-1]:
            return None
        return self.load_world(map_name, reset_settings, map_layers)

    def reload_world(self, reset_settings: bool = True) -> World:
        """Start the current map afresh (all actors gone)."""
        wmap = self.get_world().get_map()
        fresh = ReconMap(wmap.name, wmap.to_opendrive(), wmap.source)
        return self._replace_world(World(fresh, seed=self._seed), reset_settings)

    def generate_opendrive_world(self, opendrive: str, parameters: Any = None, reset_settings: bool = True) -> World:
        """Open a world from OpenDRIVE text (named 'OpenDriveMap', as CARLA names it)."""
        return self._replace_world(World(ReconMap("OpenDriveMap", opendrive), seed=self._seed), reset_settings)

    def _replace_world(self, world: World, reset_settings: bool) -> World:
        if self._world is not None and not reset_settings:
            world.apply_settings(self._world.get_settings())
        self._world = world
        return world

    def get_available_maps(self) -> list[str]:
        """Map paths as CARLA lists them ('/Game/Carla/Maps/Town01', …)."""
        return [f"/Game/Carla/Maps/{name}" for name in sorted(available_maps(self._map_dirs))]

    # ---- batches -----------------------------------------------------------------------------
    def apply_batch(self, commands_list: list[Any]) -> None:
        """Run commands in order (errors are ignored, as CARLA's asynchronous batch does)."""
        commands.execute_batch(self.get_world(), list(commands_list))

    def apply_batch_sync(self, commands_list: list[Any], do_tick: bool = False) -> list[commands.Response]:
        """Run commands in order and return one Response each; tick afterwards if asked."""
        responses = commands.execute_batch(self.get_world(), list(commands_list))
        if do_tick:
            self.get_world().tick()
        return responses

    # ---- misc --------------------------------------------------------------------------------
    def get_trafficmanager(self, client_connection: int = 8000) -> TrafficManager:
        """The traffic manager on a port."""
        return self.get_world().simulation.traffic_manager(int(client_connection))

    def set_timeout(self, seconds: float) -> None:
        """Stored; nothing here waits on a network."""
        self._timeout = float(seconds)

    def get_client_version(self) -> str:
        """CARLA API version implemented."""
        return CARLA_VERSION

    def get_server_version(self) -> str:
        """CARLA API version implemented (there is no separate server)."""
        return CARLA_VERSION

    def set_files_base_folder(self, path: str) -> None:
        """No server files to fetch."""

    def get_required_files(self, folder: str = "", download: bool = True) -> list[str]:
        """No server files to fetch."""
        return []

    def request_file(self, name: str) -> None:
        """No server files to fetch."""

    def start_recorder(self, filename: str, additional_data: bool = False) -> str:
        """Not available: CARLA's recorder format is the server's; use world.on_tick to log state."""
        raise RuntimeError("client.start_recorder is not supported by recon_carla_bridge (no CARLA server)")

    def stop_recorder(self) -> None:
        """Nothing is recording."""

    def replay_file(self, name: str, start: float, duration: float, follow_id: int, replay_sensors: bool = False) -> str:
        """Not available (no CARLA recorder files)."""
        raise RuntimeError("client.replay_file is not supported by recon_carla_bridge (no CARLA server)")

    def __str__(self) -> str:
        return f"recon_carla_bridge.Client(host={self._host}, port={self._port})"

    __repr__ = __str__
