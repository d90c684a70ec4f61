"""OpenSCENARIO RoadPosition and RelativeRoadPosition for srunner 0.9.11's parser.

ScenarioRunner 0.9.16's examples (e.g. FollowLeadingVehicle.xosc) place actors with road
coordinates, which the last PyPI srunner (0.9.11) rejects with NotImplementedError. CARLA's Python
API cannot return a waypoint on lane 0 (the reference line), so the reference line is recovered
from the innermost lane: its centre shifted by half its width towards the road's centre.
Conventions follow ScenarioRunner 0.9.16: `t` shifts along CARLA's right vector of the reference
line, headings are in radians in OpenDRIVE's sense (negated for CARLA).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import carla

from recon_carla_bridge.errors import InputError


def _right(yaw_deg: float) -> tuple[float, float]:
    yaw = math.radians(yaw_deg)
    return -math.sin(yaw), math.cos(yaw)


def reference_line_pose(wmap: carla.Map, road_id: int, s: float) -> tuple[carla.Location, float] | None:
    """Location and heading (deg, CARLA) of the road's reference line at s, or None if the road lacks s."""
    for lane_id, sign in ((-1, 1.0), (1, -1.0)):
        try:
            waypoint = wmap.get_waypoint_xodr(road_id, lane_id, s)
        except RuntimeError:
            waypoint = None
        if waypoint is None:
            continue
        yaw = waypoint.transform.rotation.yaw
        rx, ry = _right(yaw)
        centre = waypoint.transform.location
        half = waypoint.lane_width / 2.0
        location = carla.Location(centre.x - rx * half, centre.y - ry * half, centre.z)
        road_yaw = yaw if sign > 0 else yaw + 180.0
        return location, road_yaw
    return None


def lateral_offset(wmap: carla.Map, location: carla.Location) -> tuple[carla.Waypoint, float]:
    """The lane waypoint under a location and the location's t (along the reference line's right vector)."""
    waypoint = wmap.get_waypoint(location)
    reference = reference_line_pose(wmap, waypoint.road_id, waypoint.s)
    if reference is None:
        raise InputError(f"road {waypoint.road_id} has no reference line at s={waypoint.s:.2f}")
    origin, yaw = reference
    rx, ry = _right(yaw)
    return waypoint, (location.x - origin.x) * rx + (location.y - origin.y) * ry


def road_position_transform(wmap: carla.Map, road_id: int, s: float, t: float, dyaw_deg: float = 0.0) -> carla.Transform:
    """Transform of OpenSCENARIO RoadPosition(roadId, s, t) with a relative heading."""
    reference = reference_line_pose(wmap, road_id, s)
    if reference is None:
        raise AttributeError(f"RoadPosition 'roadId={road_id} with s={s} and t={t}' does not exist")
    origin, yaw = reference
    rx, ry = _right(yaw)
    return carla.Transform(carla.Location(origin.x + rx * t, origin.y + ry * t, origin.z), carla.Rotation(yaw=yaw + dyaw_deg))


def relative_road_transform(wmap: carla.Map, reference: carla.Transform, ds: float, dt: float,
                            dyaw_deg: float = 0.0, absolute: bool = False) -> carla.Transform:
    """Transform ds along the road and dt across it from a reference entity, keeping its lane offset."""
    waypoint, t_entity = lateral_offset(wmap, reference.location)
    _, t_lane = lateral_offset(wmap, waypoint.transform.location)
    try:
        target = wmap.get_waypoint_xodr(waypoint.road_id, waypoint.lane_id, waypoint.s + ds)
    except RuntimeError:
        target = None
    if target is None:  # beyond this road: follow the lane instead
        along = ds if waypoint.lane_id < 0 else -ds
        options = waypoint.next(along) if along >= 0 else waypoint.previous(-along)
        if not options:
            raise AttributeError(f"RelativeRoadPosition ds={ds} from road {waypoint.road_id} does not exist")
        target = options[0]
    offset = (t_entity - t_lane) + dt
    yaw = dyaw_deg if absolute else reference.rotation.yaw + dyaw_deg
    rx, ry = _right(target.transform.rotation.yaw if target.lane_id < 0 else target.transform.rotation.yaw + 180.0)
    centre = target.transform.location
    return carla.Transform(carla.Location(centre.x + rx * offset, centre.y + ry * offset, centre.z), carla.Rotation(yaw=yaw))


def install() -> None:
    """Extend srunner's OpenScenarioParser.convert_position_to_transform with road positions (idempotent)."""
    from srunner.scenariomanager.carla_data_provider import CarlaDataProvider
    from srunner.tools.openscenario_parser import OpenScenarioParser

    original: Callable[..., carla.Transform] = OpenScenarioParser.convert_position_to_transform
    if getattr(original, "_recon_road_positions", False):
        return

    def value(element: Any, name: str, default: float = 0.0) -> float:
        raw = element.attrib.get(name, default)
        if isinstance(raw, str) and raw.startswith("$"):
            raw = OpenScenarioParser.global_osc_parameters.get(raw[1:], raw)
        return float(raw)

    def orientation(element: Any) -> tuple[float, bool]:
        node = element.find("Orientation")
        if node is None:
            return 0.0, False
        return -math.degrees(value(node, "h")), node.attrib.get("type") == "absolute"

    def convert(position: Any, actor_list: Any = None) -> carla.Transform:
        try:
            return convert_known(position, actor_list)
        except AttributeError as error:
            # srunner retries an actor whose reference is not placed yet, in a loop that never ends when the
            # reference names no actor of the file at all: refuse that case by name
            message = str(error)
            if "Object '" in message and actor_list is not None:
                entity = message.split("'")[1]
                if not any(getattr(actor, "rolename", None) == entity for actor in actor_list):
                    raise InputError(f"OpenSCENARIO position: entityRef '{entity}' names no entity of the scenario "
                                     "(its <ScenarioObject> is missing)") from None
            raise

    def convert_known(position: Any, actor_list: Any = None) -> carla.Transform:
        wmap = CarlaDataProvider.get_map()
        road = position.find("RoadPosition")
        if road is not None:
            dyaw, _ = orientation(road)
            return road_position_transform(wmap, int(value(road, "roadId")), value(road, "s"), value(road, "t"), dyaw)
        relative = position.find("RelativeRoadPosition")
        if relative is not None:
            entity = relative.attrib.get("entityRef")
            reference = None
            for actor in actor_list or []:
                if getattr(actor, "rolename", None) == entity:
                    reference = actor.transform
            if reference is None:
                for actor in CarlaDataProvider.get_world().get_actors():
                    if actor.attributes.get("role_name") == entity:
                        reference = actor.get_transform()
                        break
            if reference is None:
                raise AttributeError(f"Object '{entity}' provided as position reference is not known")
            dyaw, absolute = orientation(relative)
            return relative_road_transform(wmap, reference, value(relative, "ds"), value(relative, "dt", 0.0), dyaw, absolute)
        return original(position, actor_list)

    convert._recon_road_positions = True  # type: ignore[attr-defined]
    OpenScenarioParser.convert_position_to_transform = staticmethod(convert)
