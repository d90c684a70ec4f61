"""Build the report folder: index.html, one MP4 per route (front camera | BEV) and the plots."""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import imageio.v2 as imageio
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from recon_carla_bridge.errors import InputError  # noqa: E402
from recon_carla_bridge.leaderboard.checkpoint import read_results  # noqa: E402
from recon_carla_bridge.leaderboard.episode import Episode  # noqa: E402
from recon_carla_bridge.report.bev import bev_frame  # noqa: E402

STYLE = """body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:12px 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:14px}th{background:#eef}
.fail{color:#b00}.ok{color:#070}video{max-width:100%}img{max-width:48%}"""


def compose_video(episode: Episode, front: Path | None, out: Path, fps: float = 10.0) -> Path:
    """MP4 with the front camera (when recorded) left and the BEV right, at the front video's rate."""
    stride = max(int(round(1.0 / (episode.dt * fps))), 1)
    ticks = list(range(0, episode.length, stride))
    reader = imageio.get_reader(str(front), format="FFMPEG") if front is not None and front.exists() else None
    frames = iter(reader) if reader is not None else iter(())
    cam = None
    writer = imageio.get_writer(str(out), fps=fps, codec="libx264", quality=6, macro_block_size=16,
                                ffmpeg_log_level="error")
    try:
        for tick in ticks:
            bev = bev_frame(episode, tick)
            cam = next(frames, cam)
            if cam is not None:
                height = bev.shape[0]
                scale = height / cam.shape[0]
                rows = (np.arange(height) / scale).astype(int).clip(0, cam.shape[0] - 1)
                cols = (np.arange(int(cam.shape[1] * scale)) / scale).astype(int).clip(0, cam.shape[1] - 1)
                frame = np.concatenate([cam[rows][:, cols], bev], axis=1)
            else:
                frame = bev
            writer.append_data(frame[: frame.shape[0] // 16 * 16, : frame.shape[1] // 16 * 16])
    finally:
        writer.close()
        if reader is not None:
            reader.close()
    return out


def _plots(records: list[dict[str, Any]], out_dir: Path) -> list[str]:
    names = []
    ids = [r["route_id"] for r in records]
    fig, ax = plt.subplots(figsize=(7, 3))
    x = np.arange(len(records))
    ax.bar(x - 0.2, [r["scores"]["score_composed"] for r in records], 0.4, label="driving score")
    ax.bar(x + 0.2, [r["scores"]["score_route"] for r in records], 0.4, label="route completion")
    ax.set_xticks(x, ids, rotation=20, fontsize=7)
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "scores.png", dpi=100)
    plt.close(fig)
    names.append("scores.png")
    return names


def _metric_rows(results: dict[str, Any]) -> str:
    metrics = results.get("metrics") or results["_checkpoint"].get("global_record", {}).get("metrics", {})
    rows = "".join(f"<tr><td>{html.escape(name)}</td><td>{'' if v['value'] is None else round(v['value'], 4)}</td>"
                   f"<td>{v['routes']}</td></tr>" for name, v in metrics.items())
    return f"<table><tr><th>metric</th><th>value</th><th>routes</th></tr>{rows}</table>"


def build_report(results_path: Path, out_dir: Path | None = None) -> Path:
    """Write `<out_dir>/index.html` (default: `<results stem>_report/` beside the results); return its path."""
    results_path = Path(results_path)
    if not results_path.exists():
        raise InputError(f"{results_path}: results file not found")
    results = read_results(results_path)
    records = results["_checkpoint"]["records"]
    if not records:
        raise InputError(f"{results_path}: field '_checkpoint.records' is empty; nothing to report")
    out_dir = Path(out_dir) if out_dir else results_path.with_name(results_path.stem + "_report")
    out_dir.mkdir(parents=True, exist_ok=True)
    table = "".join(f"<tr><td>{html.escape(label)}</td><td>{html.escape(value)}</td></tr>"
                    for label, value in zip(results.get("labels", []), results.get("values", [])))
    sections = []
    for record in records:
        infractions = "".join(f"<li>{html.escape(name)}: {html.escape(message)}</li>"
                              for name, messages in record["infractions"].items() for message in messages)
        video_html = ""
        artifacts = record.get("meta", {}).get("artifacts")
        if artifacts:
            folder = results_path.parent / artifacts
            episode_path = folder / "episode.npz"
            if episode_path.exists():
                name = f"{record['route_id']}.mp4"
                compose_video(Episode.load(episode_path), folder / "front.mp4", out_dir / name)
                video_html = f'<video controls muted src="{html.escape(name)}"></video>'
        css = "fail" if "Failed" in record["status"] else "ok"
        reason = record.get("meta", {}).get("failure_reason", "")
        sections.append(
            f"<h3>{html.escape(record['route_id'])} <span class='{css}'>{html.escape(record['status'])}</span></h3>"
            f"<p>driving score {record['scores']['score_composed']:.2f} = RC {record['scores']['score_route']:.2f}"
            f" × penalty {record['scores']['score_penalty']:.3f}; length {record['meta']['route_length']:.0f} m; "
            f"{html.escape(reason)}</p><ul>{infractions or '<li>no infraction</li>'}</ul>{video_html}")
    plots = "".join(f'<img src="{name}" alt="{name}">' for name in _plots(records, out_dir))
    route_rows = "".join(
        f"<tr><td>{html.escape(r['route_id'])}</td><td>{html.escape(r['status'])}</td>"
        f"<td>{r['scores']['score_composed']:.2f}</td><td>{r['scores']['score_route']:.2f}</td>"
        f"<td>{r['scores']['score_penalty']:.3f}</td><td>{r['num_infractions']}</td></tr>" for r in records)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Evaluation report</title>"
            f"<style>{STYLE}</style></head><body><h1>Evaluation report</h1>"
            f"<p>{html.escape(str(results_path))} — entry status {html.escape(results.get('entry_status', ''))}</p>"
            f"<h2>Leaderboard scores</h2><table>{table}</table>"
            f"<h2>Routes</h2><table><tr><th>route</th><th>status</th><th>driving score</th><th>route completion</th>"
            f"<th>penalty</th><th>infractions</th></tr>{route_rows}</table>"
            f"<h2>Other metrics (RAD, Bench2Drive, AlpaSim, HUGSIM)</h2>{_metric_rows(results)}"
            f"<h2>Plots</h2>{plots}<h2>Per route</h2>{''.join(sections)}</body></html>")
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    (out_dir / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return index
