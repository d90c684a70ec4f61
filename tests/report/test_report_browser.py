"""`recon-carla report` opened in a real headless Chromium: the page renders, its score table is in the DOM.

A small evaluation (our Town01 route, capped at 6 simulated seconds, with its video) is run through the CLI,
the report is built through the CLI, and Chromium takes a screenshot and dumps the DOM of the page.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recon_carla_bridge.cli import main

REPO = Path(__file__).resolve().parents[2]
ROUTES = REPO / "scenarios" / "routes" / "town01_short.xml"
AGENT = REPO / "agents" / "leaderboard_agents" / "route_follower_agent.py"
CHROMIUM = os.environ.get("RECON_CARLA_CHROMIUM", "/usr/bin/chromium")
WINDOW = (1280, 2000)


def _chromium(profile: Path, *arguments: str) -> subprocess.CompletedProcess:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
               "--hide-scrollbars", f"--window-size={WINDOW[0]},{WINDOW[1]}", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def report(shared_data, tmp_path_factory) -> tuple[Path, dict]:
    """(index.html, results) of a real evaluation with one capped route."""
    folder = tmp_path_factory.mktemp("report")
    results_path = folder / "results.json"
    assert main(["evaluate", "--routes", str(ROUTES), "--agent", str(AGENT),
                 "--max-route-seconds", "6", "--checkpoint", str(results_path)]) == 0
    assert main(["report", str(results_path)]) == 0
    index = folder / "results_report" / "index.html"
    return index, json.loads(results_path.read_text())


def test_report_files_are_complete(report):
    index, _ = report
    page = index.read_text(encoding="utf-8")
    for name in re.findall(r"src='([^']+)'", page):
        assert (index.parent / name).is_file(), f"the page links {name}, which the report did not write"
    video = index.parent / "RouteScenario_0_rep0.mp4"
    import imageio.v2 as imageio

    reader = imageio.get_reader(str(video))
    frames = reader.count_frames()
    first = reader.get_data(0)
    reader.close()
    assert frames == 61  # ticks 0..120 (6 s at 20 Hz, both ends included), one frame every 2 ticks
    assert first.shape == (384, 768 + 384, 3)  # front camera (2:1, scaled to the BEV's height) | BEV


def test_report_says_what_each_number_means_and_which_way_is_better(report):
    index, _ = report
    page = index.read_text(encoding="utf-8")
    row = re.search(r"<tr><td>Avg. driving score</td>.*?</tr>", page).group(0)
    assert "higher is better" in row and "route completion × infraction penalty" in row
    row = re.search(r"<tr><td>Collisions with vehicles</td>.*?</tr>", page).group(0)
    assert "lower is better" in row and "per km" in row
    row = re.search(r"<tr><td>RAD</td><td>rad.CR</td>.*?</tr>", page).group(0)
    assert "lower is better" in row and "first failure is a collision" in row


def test_report_prints_its_progress(report, tmp_path, capsys):
    index, _ = report
    assert main(["report", str(index.parent.parent / "results.json"), "--no-video", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "report: 1 route(s) into" in out and "report: route 1/1: RouteScenario_0_rep0 (map)" in out


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"no Chromium at {CHROMIUM} (set RECON_CARLA_CHROMIUM)")
def test_report_renders_in_headless_chromium(report, tmp_path):
    index, results = report
    url = index.resolve().as_uri()
    screenshot = tmp_path / "report.png"
    shot = _chromium(tmp_path / "profile-shot", f"--screenshot={screenshot}", url)
    assert screenshot.is_file(), shot.stderr[-2000:]
    dom = _chromium(tmp_path / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]

    with Image.open(screenshot) as image:
        assert image.size == WINDOW
        pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    assert pixels.std() > 20.0  # not a blank page
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500  # text, tables, plots and the video poster
    top = pixels[:400]  # title and score cards
    assert (np.abs(top - pixels[0, 0]).sum(axis=2) > 60).mean() > 0.02

    text = dom.stdout
    values = dict(zip(results["labels"], results["values"]))
    table = re.search(r"<table id=\"leaderboard-scores\">(.*?)</table>", text, re.DOTALL)
    assert table, "the leaderboard score table is not in the rendered DOM"
    for label in ("Avg. driving score", "Avg. route completion", "Avg. infraction penalty", "Red lights infractions"):
        assert re.search(rf"<td>{re.escape(label)}</td><td class=\"num\">{re.escape(values[label])}</td>",
                         table.group(1)), label
    record = results["_checkpoint"]["records"][0]
    assert record["route_id"] in text and record["status"] in text
    assert "<video" in text and "RouteScenario_0_rep0.mp4" in text
    keep = os.environ.get("RECON_CARLA_KEEP_SCREENSHOT")
    if keep:
        shutil.copyfile(screenshot, keep)
