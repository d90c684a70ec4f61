"""A DAA scenario of a scenario XML driven in its world with the scene's logged front camera rendered: an MP4, a
few PNG stills, the per-tick poses and lanes of the ego and the adversary, and a with/without-adversary pair of
renders of the last pose (where the adversary ended up, the pixels change: it is drawn there, as a car).

    python -m recon_carla_bridge.adversary.scene_video scenarios/DAAKitti0013.xml DAAKitti0013CutInRight_1 \
        docs/figures/daa/cut_in_kitti_0013.mp4 --stills docs/figures/daa
"""
from __future__ import annotations

import argparse
import json
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import carla
import numpy as np

from recon_carla_bridge.adversary.ego_drivers import EGO_DRIVERS, EGO_SPEED_KMH
from recon_carla_bridge.adversary.scenarios import HIDDEN_BELOW_Z, insert_transform, vehicle_to_take_over
from recon_carla_bridge.adversary.spec import adversary_spec_of
from recon_carla_bridge.adversary.world_draws import EGO_MODEL, DrawWorld
from recon_carla_bridge.errors import InputError

CAMERA_HZ = 10.0  # camera frames per second (and the video's)


@dataclass
class SceneRun:
    """What a recorded DAA run saw."""

    verdict: str  # 'accepted' or why no plan came
    adversary_role: str  # role_name of the adversary ('log_vehicle_…' when a logged car was taken over)
    ticks: list[dict] = field(default_factory=list)  # t, ego/adversary [x, y, yaw deg], their lane ids
    frames: list[np.ndarray] = field(default_factory=list)  # RGB camera frames (H, W, 3) uint8
    frame_times: list[float] = field(default_factory=list)  # s since the start
    with_adversary: np.ndarray | None = None  # last pose, adversary drawn
    without_adversary: np.ndarray | None = None  # same pose, adversary moved under the map
    adversary_box_pixels: tuple[int, int, int, int] | None = None  # (x0, y0, x1, y1) of its box in those renders


def ego_element(config_file: str, scenario: str) -> tuple[str, carla.Transform, str]:
    """(town, ego start transform, ego model) of a scenario in a scenario configuration XML."""
    try:
        root = ET.parse(config_file).getroot()
    except (ET.ParseError, OSError) as error:
        raise InputError(f"{config_file}: {error}") from None
    for element in root.iter("scenario"):
        if element.get("name") == scenario:
            ego = element.find("ego_vehicle")
            if ego is None:
                raise InputError(f"{config_file}: scenario '{scenario}' has no <ego_vehicle>")
            try:
                location = carla.Location(float(ego.get("x", "0")), float(ego.get("y", "0")), float(ego.get("z", "0")))
                rotation = carla.Rotation(yaw=float(ego.get("yaw", "0")))
            except ValueError as error:
                raise InputError(f"{config_file}: scenario '{scenario}' <ego_vehicle>: {error}") from None
            return element.get("town", ""), carla.Transform(location, rotation), ego.get("model", EGO_MODEL)
    raise InputError(f"{config_file}: no scenario named '{scenario}'")


def _bgra_to_rgb(image: carla.Image) -> np.ndarray:
    bgra = np.frombuffer(image.raw_data, dtype=np.uint8).reshape(image.height, image.width, 4)
    return np.ascontiguousarray(bgra[..., 2::-1])


def _box_pixels(camera: carla.Actor, actor: carla.Actor, width: int, height: int, fov: float
                ) -> tuple[int, int, int, int] | None:
    """The image rectangle (clipped) spanned by the actor's box corners in front of the camera, or None."""
    world_to_camera = np.array(camera.get_transform().get_inverse_matrix())
    corners = np.array([[v.x, v.y, v.z, 1.0] for v in actor.bounding_box.get_world_vertices(actor.get_transform())])
    local = corners @ world_to_camera.T  # CARLA camera frame: x forward, y right, z up
    if (local[:, 0] <= 0.1).any():
        return None
    focal = width / (2.0 * math.tan(math.radians(fov) / 2.0))
    u = width / 2.0 + focal * local[:, 1] / local[:, 0]
    v = height / 2.0 - focal * local[:, 2] / local[:, 0]
    x0, x1 = int(np.clip(u.min(), 0, width)), int(np.clip(u.max(), 0, width))
    y0, y1 = int(np.clip(v.min(), 0, height)), int(np.clip(v.max(), 0, height))
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def record(config_file: str, scenario: str, ego_kind: str = "reference", camera_scale: float = 0.5,
           max_s: float = 20.0, after_plan_s: float = 1.0) -> SceneRun:
    """Drive the scenario's DAA manoeuvre with the scene's front camera rendered (see the module docstring)."""
    from recon_carla_bridge.scene.scene_world import logged_camera_transform

    town, ego_start, ego_model = ego_element(config_file, scenario)
    spec = adversary_spec_of(config_file, scenario)
    draw_world = DrawWorld(town)
    draw_world.activate()
    world, wmap = draw_world.world, draw_world.map
    if getattr(world, "scene_bundle", None) is None:
        raise InputError(f"{config_file}: scenario '{scenario}': town '{town}' is not a reconstructed scene (no camera)")
    ego = draw_world.spawn_moving(ego_model, wmap.get_waypoint(ego_start.location), "hero", EGO_SPEED_KMH / 3.6)
    if spec.actor == "insert":
        blueprint = world.get_blueprint_library().find(spec.model)
        blueprint.set_attribute("role_name", "adversary")
        adversary = world.spawn_actor(blueprint, insert_transform(wmap, ego, spec))
    else:
        adversary = vehicle_to_take_over(world, ego, spec)
    name, mount, fov, width, height = logged_camera_transform(world.scene_bundle)
    width, height = max(16, round(width * camera_scale)), max(16, round(height * camera_scale))
    blueprint = world.get_blueprint_library().find("sensor.camera.rgb")
    for key, value in (("image_size_x", width), ("image_size_y", height), ("fov", f"{fov:.4f}"),
                       ("sensor_tick", f"{1.0 / CAMERA_HZ:.6f}")):
        blueprint.set_attribute(key, str(value))
    camera = world.spawn_actor(blueprint, mount, attach_to=ego)
    latest: list[carla.Image] = []
    camera.listen(latest.append)
    run = SceneRun("no plan", adversary.attributes.get("role_name", ""))
    start = world.get_snapshot().timestamp.elapsed_seconds

    def lane_of(actor: carla.Actor) -> int:
        return wmap.get_waypoint(actor.get_location()).lane_id

    def on_tick() -> None:
        now = world.get_snapshot().timestamp.elapsed_seconds - start
        row = {"t": now}
        for key, actor in (("ego", ego), ("adversary", adversary)):
            transform = actor.get_transform()
            row[key] = [transform.location.x, transform.location.y, transform.rotation.yaw]
            row[f"{key}_lane"] = lane_of(actor)
        run.ticks.append(row)
        while latest:
            run.frames.append(_bgra_to_rgb(latest.pop(0)))
            run.frame_times.append(now)

    try:
        draw_world.tick()
        outcome = draw_world.drive(ego, adversary, spec, ego_kind, max_s, on_tick=on_tick, after_plan_s=after_plan_s)
        run.verdict = outcome.verdict
        # the last pose twice, the cars held still: with the adversary, then with it under the map
        ego.apply_control(carla.VehicleControl(throttle=0.0, brake=1.0))
        for actor in (ego, adversary):
            actor.set_target_velocity(carla.Vector3D(0.0, 0.0, 0.0))
        run.with_adversary = _still(draw_world, latest)
        run.adversary_box_pixels = _box_pixels(camera, adversary, width, height, fov)
        hidden = adversary.get_transform()
        hidden.location.z = HIDDEN_BELOW_Z * 5
        adversary.set_transform(hidden)
        run.without_adversary = _still(draw_world, latest)
    finally:
        camera.stop()
        camera.destroy()
    return run


def _still(draw_world: DrawWorld, latest: list) -> np.ndarray:
    """The next camera image (ticking until one comes)."""
    latest.clear()
    for _ in range(int(2 * 20 / CAMERA_HZ) + 2):
        draw_world.tick()
        if latest:
            return _bgra_to_rgb(latest.pop())
    raise RuntimeError("the camera delivered no image")


def write_video(frames: list[np.ndarray], path: Path, fps: float = CAMERA_HZ) -> None:
    """An H.264 MP4 of the frames (cropped to multiples of 16 pixels)."""
    import imageio.v2 as imageio

    path.parent.mkdir(parents=True, exist_ok=True)
    with imageio.get_writer(str(path), fps=fps, codec="libx264", quality=6, macro_block_size=16,
                            ffmpeg_log_level="error") as writer:
        for frame in frames:
            height, width = frame.shape[0] // 16 * 16, frame.shape[1] // 16 * 16
            writer.append_data(frame[:height, :width])


def main(argv: list[str] | None = None) -> int:
    """Record, write the MP4, the stills and a JSON of the run; print where the adversary went."""
    import imageio.v2 as imageio

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config_file")
    parser.add_argument("scenario")
    parser.add_argument("out", help="the MP4 to write")
    parser.add_argument("--ego", default="reference", choices=list(EGO_DRIVERS))
    parser.add_argument("--camera-scale", type=float, default=0.5, help="image size relative to the logged camera")
    parser.add_argument("--stills", default="", help="folder for 4 PNG stills and the with/without pair")
    args = parser.parse_args(argv)
    run = record(args.config_file, args.scenario, args.ego, args.camera_scale)
    out = Path(args.out)
    write_video(run.frames, out)
    stem = out.stem
    if args.stills:
        folder = Path(args.stills)
        folder.mkdir(parents=True, exist_ok=True)
        for index in np.linspace(0, len(run.frames) - 1, 4).round().astype(int):
            imageio.imwrite(folder / f"{stem}_t{run.frame_times[index]:04.1f}s.png", run.frames[index])
        imageio.imwrite(folder / f"{stem}_last_with_without.png", np.concatenate([run.with_adversary,
                                                                                    run.without_adversary], axis=0))
    first, last = run.ticks[0], run.ticks[-1]
    summary = {"scenario": args.scenario, "verdict": run.verdict, "adversary": run.adversary_role,
               "frames": len(run.frames), "seconds": last["t"],
               "adversary_lane": [first["adversary_lane"], last["adversary_lane"]],
               "ego_lane": [first["ego_lane"], last["ego_lane"]], "adversary_box_pixels": run.adversary_box_pixels,
               "mp4_bytes": out.stat().st_size}
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
