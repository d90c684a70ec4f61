"""Build the report folder: index.html, one MP4 per route (front camera | BEV), route maps and plots.

Everything is read from the results JSON and, per route, the artefacts folder its record names
(`meta.artifacts`: episode.npz and front.mp4). A route without artefacts (the agent could not be built,
the sensors were rejected) gets its row and infractions, no video.
"""
from __future__ import annotations

import html
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import imageio.v2 as imageio
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image, ImageDraw

from recon_carla_bridge.errors import InputError, MapNotFoundError
from recon_carla_bridge.leaderboard.checkpoint import read_results
from recon_carla_bridge.leaderboard.episode import Episode
from recon_carla_bridge.leaderboard.progress import StepProgress
from recon_carla_bridge.report.bev import BevRenderer, BevView, overview_image
from recon_carla_bridge.report.metric_guide import LEADERBOARD_GUIDE, METRIC_GUIDE, arrow
from recon_carla_bridge.report.style import PAGE_STYLE
from recon_carla_bridge.schematic.scene import SchematicScene

VIDEO_FPS = 10.0
SCORE_LABELS = ("Avg. driving score", "Avg. route completion", "Avg. infraction penalty")
METRIC_FAMILIES = (("rad", "RAD"), ("b2d", "Bench2Drive"), ("alpasim", "AlpaSim"), ("hugsim", "HUGSIM"))


@dataclass
class RouteArtifacts:
    """What the report made for one route: file names relative to the report folder ('' when absent)."""

    video: str = ""
    poster: str = ""
    overview: str = ""
    episode: Episode | None = None


def _scene_of(town: str, cache: dict[str, SchematicScene | None]) -> SchematicScene | None:
    """Road geometry of `town` for the BEV (None when its map is not on this machine)."""
    if town not in cache:
        from recon_carla_bridge.scene.scene_world import load_place_map

        try:
            cache[town] = SchematicScene.from_map(load_place_map(town))
        except MapNotFoundError:
            cache[town] = None
    return cache[town]


def _label(frame: np.ndarray, text: str) -> np.ndarray:
    """Frame with `text` on a dark strip at its bottom-left corner."""
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    width = int(draw.textlength(text)) + 12
    draw.rectangle((0, image.height - 20, width, image.height), fill=(20, 22, 26))
    draw.text((6, image.height - 17), text, fill=(235, 235, 235))
    return np.asarray(image)


def _fit_height(frame: np.ndarray, height: int) -> np.ndarray:
    """Frame resized to `height` rows, keeping its aspect ratio (pixels repeated for whole factors)."""
    if height % frame.shape[0] == 0:
        factor = height // frame.shape[0]
        return frame.repeat(factor, axis=0).repeat(factor, axis=1)
    width = max(int(round(frame.shape[1] * height / frame.shape[0])), 1)
    return np.asarray(Image.fromarray(frame).resize((width, height), Image.BILINEAR))


def compose_video(episode: Episode, front: Path | None, out: Path, scene: SchematicScene | None = None,
                  front_label: str = "front camera", fps: float = VIDEO_FPS,
                  poster: Path | None = None) -> Path:
    """MP4 with the front camera (when recorded) left and the BEV right, one frame every 1/fps s of the run.

    The front video was written with one frame every `round(1 / (dt·fps))` ticks from the first, so frame k of
    it shows tick k·stride. `poster`, when given, receives the frame at the first infraction (else the middle).
    """
    stride = max(int(round(1.0 / (episode.dt * fps))), 1)
    ticks = list(range(0, episode.length, stride))
    renderer = BevRenderer(episode, scene, BevView())
    reader = imageio.get_reader(str(front), format="FFMPEG") if front is not None and front.exists() else None
    frames = iter(reader) if reader is not None else iter(())
    event_ticks = [int(np.searchsorted(episode.frame, e["frame"])) for e in episode.events
                   if e["type"] != "ROUTE_COMPLETION"]
    poster_tick = min(event_ticks) if event_ticks else episode.length // 2
    camera = None
    writer = imageio.get_writer(str(out), fps=fps, codec="libx264", quality=6, macro_block_size=16,
                                ffmpeg_log_level="error")
    try:
        for position, tick in enumerate(ticks):
            bev = renderer.frame(tick)
            camera = next(frames, camera)
            if camera is not None:
                frame = np.concatenate([_label(_fit_height(camera, bev.shape[0]), front_label), bev], axis=1)
            else:
                frame = bev
            frame = frame[: frame.shape[0] // 16 * 16, : frame.shape[1] // 16 * 16]
            writer.append_data(frame)
            is_poster_frame = tick <= poster_tick < tick + stride or (position == len(ticks) - 1 and poster_tick >= tick)
            if poster is not None and is_poster_frame:
                Image.fromarray(frame).save(poster)
    finally:
        writer.close()
        if reader is not None:
            reader.close()
    return out


def _score_plot(records: list[dict[str, Any]], path: Path) -> None:
    ids = [r["route_id"] for r in records]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(records) + 2.0), 3.0))
    x = np.arange(len(records))
    ax.bar(x - 0.2, [r["scores"]["score_composed"] for r in records], 0.4, label="driving score", color="#3b6fd6")
    ax.bar(x + 0.2, [r["scores"]["score_route"] for r in records], 0.4, label="route completion", color="#9bb7ea")
    ax.set_xticks(x, ids, rotation=15, fontsize=7)
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.set_title("Scores per route", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _speed_plot(episodes: dict[str, Episode], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.5, 3.0))
    for route_id, episode in episodes.items():
        speed = np.hypot(episode.ego_velocity[:, 0], episode.ego_velocity[:, 1]) * 3.6
        ax.plot(episode.time, speed, linewidth=1.0, label=route_id)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("speed (km/h)")
    ax.set_title("Ego speed", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _route_artifacts(record: dict[str, Any], results_dir: Path, out_dir: Path, videos: bool,
                     scenes: dict[str, SchematicScene | None] | None = None) -> RouteArtifacts:
    """Map image and video of one route (`scenes` caches road geometry by town across calls)."""
    scenes = {} if scenes is None else scenes
    artifacts = RouteArtifacts()
    folder_name = record.get("meta", {}).get("artifacts")
    if not folder_name:
        return artifacts
    folder = results_dir / folder_name
    if not (folder / "episode.npz").exists():
        return artifacts
    episode = Episode.load(folder / "episode.npz")
    artifacts.episode = episode
    if episode.length == 0:
        return artifacts
    scene = _scene_of(episode.town, scenes)
    stem = record["route_id"]
    overview_image(episode, scene).save(out_dir / f"{stem}_map.png")
    artifacts.overview = f"{stem}_map.png"
    if videos:
        front = folder / "front.mp4"
        compose_video(episode, front if front.exists() else None, out_dir / f"{stem}.mp4", scene,
                      record["meta"].get("front_video", "front camera"), poster=out_dir / f"{stem}_poster.png")
        artifacts.video, artifacts.poster = f"{stem}.mp4", f"{stem}_poster.png"
    return artifacts


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _score_cards(values: dict[str, str]) -> str:
    cards = []
    for label in SCORE_LABELS:
        value = values.get(label)
        shown = "–" if value is None else f"{float(value):.3f}" if "penalty" in label else f"{float(value):.2f}"
        cards.append(f"<div class='card'><div class='value'>{shown}</div><div class='label'>{_esc(label)}</div></div>")
    return f"<div class='cards'>{''.join(cards)}</div>"


def _leaderboard_table(results: dict[str, Any]) -> str:
    rows = []
    for label, value in zip(results.get("labels", []), results.get("values", [])):
        unit = "" if label in SCORE_LABELS else " per km" if label != "Off-road infractions" else " km"
        meaning, better = LEADERBOARD_GUIDE.get(label, ("", ""))
        rows.append(f"<tr><td>{_esc(label)}</td><td class='num'>{_esc(value)}</td><td>{unit.strip()}</td>"
                    f"<td>{_esc(arrow(better)) if better else ''}</td><td>{_esc(meaning)}</td></tr>")
    return ("<table id='leaderboard-scores'><tr><th>leaderboard 2.0</th><th>value</th><th>unit</th><th>better</th>"
            f"<th>meaning</th></tr>{''.join(rows)}</table>")


def _routes_table(records: list[dict[str, Any]]) -> str:
    rows = []
    for r in records:
        meta = r.get("meta", {})
        css = "fail" if "Failed" in r["status"] else "ok"
        rows.append(
            f"<tr><td><a href='#{_esc(r['route_id'])}'>{_esc(r['route_id'])}</a></td><td>{_esc(meta.get('town', ''))}</td>"
            f"<td class='{css}'>{_esc(r['status'])}</td><td class='num'>{r['scores']['score_composed']:.2f}</td>"
            f"<td class='num'>{r['scores']['score_route']:.2f}</td><td class='num'>{r['scores']['score_penalty']:.3f}</td>"
            f"<td class='num'>{float(meta.get('route_length', 0)):.0f}</td>"
            f"<td class='num'>{float(meta.get('duration_game', 0)):.1f}</td><td class='num'>{r['num_infractions']}</td>"
            f"<td>{_esc(meta.get('failure_reason', ''))}</td></tr>")
    return ("<table id='routes'><tr><th>route</th><th>town</th><th>status</th><th>driving score</th>"
            "<th>route completion</th><th>penalty</th><th>length (m)</th><th>sim time (s)</th><th>infractions</th>"
            f"<th>reason</th></tr>{''.join(rows)}</table>")


def _metrics_table(results: dict[str, Any]) -> str:
    from recon_carla_bridge.leaderboard.metrics import default_registry

    registry = default_registry()
    metrics = results.get("metrics") or results["_checkpoint"].get("global_record", {}).get("metrics", {})
    if not metrics:
        return "<p>No extra metrics (no route produced an episode).</p>"
    rows = []
    for prefix, family in METRIC_FAMILIES:
        for name, entry in metrics.items():
            if not name.startswith(prefix + "."):
                continue
            description = registry[name].description if name in registry.names else ""
            meaning, better = METRIC_GUIDE.get(name, (description, ""))
            value = "n/a" if entry.get("value") is None else f"{entry['value']:.4g}"
            rows.append(f"<tr><td>{_esc(family)}</td><td>{_esc(name)}</td><td>{_esc(description)}</td>"
                        f"<td class='num'>{value}</td><td>{_esc(arrow(better)) if better else ''}</td>"
                        f"<td>{_esc(meaning)}</td><td class='num'>{entry.get('routes', 0)}</td></tr>")
    return ("<table id='metrics'><tr><th>family</th><th>metric</th><th>name</th><th>mean</th><th>better</th>"
            f"<th>meaning</th><th>routes counted</th></tr>{''.join(rows)}</table>")


def _route_section(record: dict[str, Any], artifacts: RouteArtifacts) -> str:
    meta = record.get("meta", {})
    css = "fail" if "Failed" in record["status"] else "ok"
    infractions = "".join(f"<li><b>{_esc(name)}</b>: {_esc(message)}</li>"
                          for name, messages in record["infractions"].items() for message in messages)
    scenarios = meta.get("scenarios") or {}
    scenario_lines = []
    if scenarios.get("built"):
        scenario_lines.append("scenarios run: " + ", ".join(scenarios["built"]))
    for name, why in (scenarios.get("skipped") or {}).items():
        scenario_lines.append(f"scenario {name} skipped: {why}")
    if scenarios.get("missing_count"):
        names = ", ".join(f"{kind} x{count}" for kind, count in scenarios["missing_types"].items())
        scenario_lines.append(f"{scenarios['missing_count']} scenario(s) not run, srunner 0.9.11 lacks: {names}")
    if scenarios.get("triggered") is not None and scenarios.get("built"):
        scenario_lines.append("scenarios triggered: " + (", ".join(scenarios["triggered"]) or "none"))
    for actor in scenarios.get("actors") or []:
        closest = "never near" if actor.get("closest_m") is None else f"closest {actor['closest_m']:.1f} m"
        scenario_lines.append(f"{actor['scenario']}: {actor['type_id']} {closest} from the ego, top speed "
                              f"{actor['max_speed']:.1f} m/s")
    background = meta.get("background_traffic")
    if background:
        scenario_lines.append(f"background traffic: {background['mode']}, {background['spawned']} vehicle(s) spawned "
                              f"(seed {background['seed']})")
    if scenarios.get("stopped"):
        scenario_lines.append(f"scenarios stopped: {scenarios['stopped']}")
    media = ""
    if artifacts.video:
        poster = f" poster='{_esc(artifacts.poster)}'" if artifacts.poster else ""
        media += f"<video controls muted preload='none'{poster} src='{_esc(artifacts.video)}'></video>"
    if artifacts.overview:
        media += f"<img class='map' src='{_esc(artifacts.overview)}' alt='route map of {_esc(record['route_id'])}'>"
    reason = meta.get("failure_reason", "")
    return (f"<section id='{_esc(record['route_id'])}'><h3>{_esc(record['route_id'])} "
            f"<span class='{css}'>{_esc(record['status'])}</span></h3>"
            f"<p>driving score <b>{record['scores']['score_composed']:.2f}</b> = route completion "
            f"{record['scores']['score_route']:.2f} × penalty {record['scores']['score_penalty']:.3f}; "
            f"{_esc(meta.get('town', ''))}, {float(meta.get('route_length', 0)):.0f} m, "
            f"{float(meta.get('duration_game', 0)):.1f} s simulated in {float(meta.get('duration_system', 0)):.1f} s"
            f"{'; ' + _esc(reason) if reason else ''}</p>"
            f"<ul>{infractions or '<li>no infraction</li>'}</ul>"
            + "".join(f"<p class='note'>{_esc(line)}</p>" for line in scenario_lines)
            + f"<div class='media'>{media}</div></section>")


def _all_route_artifacts(records: list[dict[str, Any]], results_dir: Path, out_dir: Path, videos: bool,
                         workers: int) -> dict[str, RouteArtifacts]:
    """Every route's artefacts, routes spread over `workers` processes (in this process when 1)."""
    workers = max(1, min(workers, len(records)))
    progress = StepProgress("report: route", len(records))
    if workers == 1:
        scenes: dict[str, SchematicScene | None] = {}
        made = {}
        for r in records:
            made[r["route_id"]] = _route_artifacts(r, results_dir, out_dir, videos, scenes)
            progress.step(r["route_id"] + (" (map and video)" if videos else " (map)"))
        return made
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {r["route_id"]: pool.submit(_route_artifacts, r, results_dir, out_dir, videos) for r in records}
        for future in as_completed(futures.values()):
            route_id = next(key for key, value in futures.items() if value is future)
            future.result()
            progress.step(route_id + (" (map and video)" if videos else " (map)"))
        return {route_id: future.result() for route_id, future in futures.items()}


def build_report(results_path: Path, out_dir: Path | None = None, videos: bool = True,
                 workers: int | None = None) -> Path:
    """Write `<out_dir>/index.html` (default: `<results stem>_report/` beside the results); return its path.

    `workers` processes build the per-route videos (default: one per CPU core).
    """
    workers = workers if workers is not None else (os.cpu_count() or 1)
    results_path = Path(results_path)
    if not results_path.exists():
        raise InputError(f"{results_path}: results file not found")
    results = read_results(results_path)
    records = results["_checkpoint"]["records"]
    if not records:
        raise InputError(f"{results_path}: field '_checkpoint.records' is empty; nothing to report")
    out_dir = Path(out_dir) if out_dir else results_path.with_name(results_path.stem + "_report")
    out_dir.mkdir(parents=True, exist_ok=True)

    print(f"report: {len(records)} route(s) into {out_dir}"
          + (" (composing videos takes the most time; --no-video is much faster)" if videos else ""), flush=True)
    artifacts = _all_route_artifacts(records, results_path.parent, out_dir, videos, workers)
    _score_plot(records, out_dir / "scores.png")
    plots = ["scores.png"]
    episodes = {route_id: a.episode for route_id, a in artifacts.items() if a.episode is not None and a.episode.length}
    if episodes:
        _speed_plot(episodes, out_dir / "speed.png")
        plots.append("speed.png")

    values = dict(zip(results.get("labels", []), results.get("values", [])))
    run = results.get("run", {})
    run_line = ", ".join(f"{key} {_esc(run[key])}" for key in ("agent", "routes", "track", "repetitions") if key in run)
    skipped = run.get("skipped_routes") or []
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Evaluation report</title>"
        f"<style>{PAGE_STYLE}</style></head><body><h1>Evaluation report</h1>"
        f"<p class='note'>{_esc(results_path)} — entry status <b>{_esc(results.get('entry_status', ''))}</b>; "
        f"{len(records)} route run(s){'; ' + run_line if run_line else ''}"
        f"{'; not run (no map here): ' + _esc(', '.join(skipped)) if skipped else ''}</p>"
        f"{_score_cards(values)}"
        f"<h2>Leaderboard scores</h2>{_leaderboard_table(results)}"
        f"<h2>Routes</h2>{_routes_table(records)}"
        f"<h2>Other metrics (RAD, Bench2Drive, AlpaSim, HUGSIM)</h2>{_metrics_table(results)}"
        "<h2>Plots</h2><div class='plots'>"
        + "".join(f"<img src='{name}' alt='{name}'>" for name in plots)
        + "</div><h2>Per route</h2>"
        + "".join(_route_section(record, artifacts[record["route_id"]]) for record in records)
        + "</body></html>")
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    (out_dir / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return index
