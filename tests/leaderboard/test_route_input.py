"""A route file with a NaN or infinite coordinate is refused naming the route, waypoint and attribute."""
from __future__ import annotations

from pathlib import Path

import pytest

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.leaderboard.routes import parse_routes_file


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_non_finite_route_coordinates_are_refused(tmp_path: Path, value: str) -> None:
    routes = tmp_path / "routes.xml"
    routes.write_text(f'<routes><route id="3" town="StraightRoad"><waypoints><position x="5" y="1.75" z="0"/>'
                      f'<position x="{value}" y="1.75" z="0"/></waypoints></route></routes>')
    with pytest.raises(InputError, match=f"routes.xml.*attribute 'x'='{value}' is not a finite number"):
        parse_routes_file(routes)
