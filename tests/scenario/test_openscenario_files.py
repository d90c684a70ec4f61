"""OpenSCENARIO files that failed before: props and walkers (chained batch commands), layered `_Opt` towns,
catalogs dated without a time, and OpenSCENARIO 2.0 files (refused with a clear message)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import carla
import pytest

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.scenario.runner import ScenarioRunner, ScenarioRunSettings

DATA = Path(__file__).parent / "data"


class RecordingRunner(ScenarioRunner):
    """The runner, recording every tick where each vehicle, walker and prop is (actor id -> [(t, location)])."""

    def __init__(self, settings: ScenarioRunSettings):
        super().__init__(settings)
        self.tracks: dict[int, list[tuple[float, carla.Location]]] = {}
        self.type_ids: dict[int, str] = {}
        self.map_names: list[str] = []

    def _load_world(self, town: str) -> None:
        super()._load_world(town)
        world = self.world
        self.map_names.append(world.get_map().name)

        def record(snapshot: carla.WorldSnapshot) -> None:
            for actor in world.get_actors():
                if actor.type_id.startswith(("vehicle.", "walker.", "static.prop.")):
                    self.type_ids[actor.id] = actor.type_id
                    self.tracks.setdefault(actor.id, []).append((snapshot.timestamp.elapsed_seconds, actor.get_location()))

        world.on_tick(record)

    def of_type(self, prefix: str) -> list[list[tuple[float, carla.Location]]]:
        return [track for actor_id, track in self.tracks.items() if self.type_ids[actor_id].startswith(prefix)]


def _run(openscenario: Path, max_sim_time: float) -> RecordingRunner:
    runner = RecordingRunner(ScenarioRunSettings(openscenario=str(openscenario), max_sim_time=max_sim_time))
    runner.run()
    return runner


def test_props_and_a_walker_on_a_layered_town_are_built_and_stay(shared_data: Path) -> None:
    """srunner chains SetAutopilot(FutureActor, False) to every spawn: props and walkers, which have no
    autopilot, are spawned all the same (Slalom.xosc, PedestrianCrossingFront.xosc failed with
    'Unable to add actors'); 'Town01_Opt' opens Town01's roads under its own name, as CARLA names it."""
    runner = _run(DATA / "PropsOnLayeredTown.xosc", max_sim_time=8.0)
    outcome = runner.outcomes[0]
    assert outcome.error == "", outcome.error
    assert runner.map_names == ["Carla/Maps/Town01_Opt"]
    props = runner.of_type("static.prop.")
    assert len(props) == 2 and len(runner.of_type("walker.")) == 1
    for track in props:
        (start, first), (end, last) = track[0], track[-1]
        assert end - start > 7.0, "the prop exists for the whole run"
        assert last.distance(first) < 1e-6
    assert {c["name"]: c["test_status"] for c in outcome.criteria}["CollisionTest"] == "SUCCESS"


def test_pedestrian_crossing_front_builds_and_the_pedestrian_walks(shared_data: Path) -> None:
    """ScenarioRunner's PedestrianCrossingFront.xosc: the walker steps out when the ego comes, waits, and
    walks away when the ego stands still (about 8.5 m across, in +y)."""
    runner = _run(shared_data / "scenario_runner" / "examples" / "PedestrianCrossingFront.xosc", max_sim_time=25.0)
    assert runner.outcomes[0].error == "", runner.outcomes[0].error
    (walker,) = runner.of_type("walker.")
    start, end = walker[0][1], walker[-1][1]
    assert end.y - start.y > 6.0 and abs(end.x - start.x) < 0.5, (start, end)
    criteria = {c["name"]: c["test_status"] for c in runner.outcomes[0].criteria}
    assert criteria["CollisionTest"] == "SUCCESS"


def test_catalog_example_loads_catalogs_dated_without_a_time(shared_data: Path) -> None:
    """CatalogExample.xosc's catalogs carry date="2020-02-17" (xs:date): valid under the xmlschema 1.0.18
    that srunner 0.9.11 pins, so they load; the catalog entries become actors."""
    runner = _run(shared_data / "scenario_runner" / "examples" / "CatalogExample.xosc", max_sim_time=10.0)
    assert runner.outcomes[0].error == "", runner.outcomes[0].error
    assert set(runner.type_ids.values()) >= {"vehicle.tesla.model3", "walker.pedestrian.0001", "static.prop.streetbarrier"}


def test_a_malformed_header_date_is_still_refused(shared_data: Path, tmp_path: Path) -> None:
    """Only a real date without a time is let through; anything else fails validation, naming the file."""
    source = (shared_data / "scenario_runner" / "examples" / "CatalogExample.xosc").read_text()
    bad = tmp_path / "BadDate.xosc"
    bad.write_text(source.replace('date="2020-03-24T12:00:00"', 'date="2020-13-45"'))
    with pytest.raises(InputError, match="BadDate.xosc"):
        ScenarioRunner(ScenarioRunSettings(openscenario=str(bad))).run()


def test_openscenario_2_file_is_refused_clearly(tmp_path: Path) -> None:
    """An OpenSCENARIO 2.0 file (ScenarioRunner 0.9.16 ships some) gets a message naming the format."""
    osc = tmp_path / "cut_in.osc"
    osc.write_text('import basic.osc\n\nscenario top:\n    path: Path\n    path.set_map("Town04")\n')
    result = subprocess.run([sys.executable, "-m", "recon_carla_bridge.cli", "scenario", "--openscenario", str(osc)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "OpenSCENARIO 2.0" in result.stderr and "not supported" in result.stderr and str(osc) in result.stderr
    assert "Traceback" not in result.stderr and "malformed XML" not in result.stderr
