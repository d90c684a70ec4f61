"""The results file (leaderboard layout): load, resume, update and write it without ever losing a finished route.

Layout (leaderboard 2.0):
    {"_checkpoint": {"global_record": {...}, "progress": [done, total], "records": [route records]},
     "entry_status": "Finished", "eligible": true, "sensors": [...], "values": [...], "labels": [...]}
This project adds "metrics" (global extra metrics) and "run" (agent, routes file, settings) at the top level, and
"infraction_details" / "metrics" inside route records; leaderboard readers ignore unknown keys.

Writes go to a temporary file that replaces the old one, so a kill mid-write leaves the previous version whole.
Earlier results are never lost by misuse: resuming checks the run's identity (agent file and hash, options that
change results; run_identity.py), a run without `--resume` keeps the previous file as a numbered backup, and a
lock file (`<checkpoint>.lock`, an OS lock that dies with its process) stops a second process writing the same file.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import filelock

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.leaderboard import scoring
from recon_carla_bridge.leaderboard.run_identity import identity_differences
from recon_carla_bridge.paths import chmod_like_new_file

SENSOR_ICONS = {
    "sensor.camera.rgb": "carla_camera",
    "sensor.lidar.ray_cast": "carla_lidar",
    "sensor.other.radar": "carla_radar",
    "sensor.other.gnss": "carla_gnss",
    "sensor.other.imu": "carla_imu",
    "sensor.opendrive_map": "carla_opendrive_map",
    "sensor.speedometer": "carla_speedometer",
}


def empty_results() -> dict[str, Any]:
    """A results document with no route yet."""
    return {
        "_checkpoint": {"global_record": {}, "progress": [], "records": []},
        "entry_status": "Started",
        "eligible": scoring.ELIGIBLE_VALUES["Started"],
        "sensors": [],
        "values": [],
        "labels": [],
    }


def read_results(path: Path) -> dict[str, Any]:
    """Parse a results file; InputError (naming the file and field) when it is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"{path}: cannot read the results file ({error.strerror})") from error
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from error
    if not isinstance(data, dict):
        raise InputError(f"{path}: the top level must be a JSON object, found {type(data).__name__}")
    checkpoint = data.get("_checkpoint")
    if data and not isinstance(checkpoint, dict):
        raise InputError(f"{path}: field '_checkpoint' is missing or not an object")
    if data:
        records = checkpoint.get("records", [])
        if not isinstance(records, list):
            raise InputError(f"{path}: field '_checkpoint.records' must be a list")
        for position, record in enumerate(records):
            for key in ("route_id", "status", "scores", "meta", "infractions"):
                if not isinstance(record, dict) or key not in record:
                    raise InputError(f"{path}: field '_checkpoint.records[{position}].{key}' is missing")
    return data or empty_results()


def _current_umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write `data` as indented JSON through a temporary file and an atomic rename; the file gets the
    permissions the process umask gives a new file (mkstemp alone would make it readable by its owner only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(handle, 0o666 & ~_current_umask())
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=4)
            stream.flush()
            os.fsync(stream.fileno())
        chmod_like_new_file(temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


_HELD: list["Checkpoint"] = []  # checkpoints whose lock is held, newest last
Result = TypeVar("Result")


def releasing_checkpoint_locks(function: Callable[..., Result]) -> Callable[..., Result]:
    """Decorate an evaluation: every checkpoint lock taken inside it is released when it returns or raises."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Result:
        mark = len(_HELD)
        try:
            return function(*args, **kwargs)
        finally:
            while len(_HELD) > mark:
                _HELD.pop().close()

    return wrapper


def _free_backup_path(path: Path) -> Path:
    """`<path>.bak`, or the first `<path>.bak.N` (N = 2, 3, …) that does not exist yet: no backup is overwritten."""
    candidate = path.with_name(path.name + ".bak")
    number = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.bak.{number}")
        number += 1
    return candidate


class Checkpoint:
    """The results document of one evaluation, bound to its file."""

    def __init__(self, path: Path, route_ids: Sequence[str], resume: bool,
                 identity: dict[str, Any] | None = None) -> None:
        """Open `path` for the routes `route_ids` (leaderboard ids like 'RouteScenario_0_rep0', in run order).

        With `resume`, finished records whose route id matches are kept and those routes are skipped; an
        existing file that does not match the routes, or that was made by another agent or with other result
        options (`identity`, see run_identity.py), is an InputError (nothing is overwritten). Without it, an
        existing non-empty file is first copied to a backup that overwrites no earlier one (`<path>.bak`,
        `<path>.bak.2`, …) and a fresh document is started. While open, `<path>.lock` stops a second writer.
        """
        self.path = Path(path)
        self.route_ids = list(route_ids)
        self.identity = identity
        self.data = empty_results()
        self.records: list[dict[str, Any] | None] = [None] * len(self.route_ids)
        self.started: dict[int, dict[str, Any]] = {}  # 'Started' records of routes running now (by position)
        self.backup: Path | None = None
        self._lock = self._acquire_lock()
        try:
            if resume and self.path.exists():
                self._resume(read_results(self.path))
            elif self.path.exists() and self.path.stat().st_size > 0:
                read_results(self.path)  # refuse to replace something that is not a results file by mistake
                self.backup = _free_backup_path(self.path)
                shutil.copyfile(self.path, self.backup)
                print(f"note: {self.path} held earlier results; kept as {self.backup} (use --resume to continue a run)",
                      file=sys.stderr)
        except BaseException:
            self.close()
            raise

    def _acquire_lock(self) -> filelock.BaseFileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(self.path.with_name(self.path.name + ".lock")), is_singleton=False)
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            raise InputError(f"{self.path}: another evaluation is writing this checkpoint (its lock "
                             f"{lock.lock_file} is held by a running process); wait for it to end or use another "
                             "--checkpoint") from None
        _HELD.append(self)
        return lock

    def close(self) -> None:
        """Release the lock (idempotent); the results already written stay."""
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.release(force=True)
            self._lock = None

    def _resume(self, data: dict[str, Any]) -> None:
        self._check_identity(data)
        checkpoint = data["_checkpoint"]
        progress = checkpoint.get("progress") or []
        if progress and int(progress[1]) != len(self.route_ids):
            raise InputError(
                f"{self.path}: field '_checkpoint.progress' says {progress[1]} routes but this run has "
                f"{len(self.route_ids)}; resume with the same --routes and --repetitions or use another --checkpoint")
        by_id = {record["route_id"]: record for record in checkpoint.get("records", [])}
        unknown = sorted(set(by_id) - set(self.route_ids))
        if unknown:
            raise InputError(f"{self.path}: records {unknown} are not routes of this run; refusing to resume")
        for position, route_id in enumerate(self.route_ids):
            record = by_id.get(route_id)
            if record is not None and record.get("status") != "Started":
                self.records[position] = record
        for key in ("sensors", "run"):
            if key in data:
                self.data[key] = data[key]

    def _check_identity(self, data: dict[str, Any]) -> None:
        """InputError when the checkpoint was made by another agent or with other result options."""
        recorded = (data.get("run") or {}).get("identity") if isinstance(data.get("run"), dict) else None
        if self.identity is None or not isinstance(recorded, dict):
            return  # a checkpoint from before identities were recorded: nothing to compare
        differences = identity_differences(recorded, self.identity)
        if differences:
            raise InputError(f"{self.path}: cannot --resume: this checkpoint was made by a different run ("
                             + "; ".join(differences) + "). Resume with the same agent and options, or write to "
                             "another --checkpoint")

    def is_done(self, position: int) -> bool:
        """Whether route `position` already has a finished record."""
        return self.records[position] is not None

    @property
    def done_count(self) -> int:
        """How many routes have finished records."""
        return sum(record is not None for record in self.records)

    def set_sensors(self, sensor_types: Sequence[str]) -> None:
        """Record the agent's sensor suite as the leaderboard's icon names."""
        self.data["sensors"] = [SENSOR_ICONS.get(sensor_type, sensor_type) for sensor_type in sensor_types]

    def set_run_info(self, info: dict[str, Any]) -> None:
        """Store how the run was made (agent, routes file, settings, and the identity resuming checks) under 'run'."""
        self.data["run"] = dict(info, identity=self.identity) if self.identity is not None else info

    def start_route(self, position: int) -> None:
        """Write a 'Started' record for route `position` before running it, so a crash leaves a trace (routes
        running in parallel each keep theirs until they finish)."""
        self.started[position] = scoring.new_route_record(self.route_ids[position], position)
        self._write()

    def finish_route(self, position: int, record: dict[str, Any]) -> None:
        """Store the finished record of route `position` and write the file (records stay in route order,
        whatever order the routes finish in)."""
        self.records[position] = record
        self.started.pop(position, None)
        self._write()

    def finalize(self, global_metrics: dict[str, Any] | None = None) -> dict[str, Any]:
        """Compute the global record, values, labels and entry status over finished routes; write; return data."""
        finished = [record for record in self.records if record is not None]
        record = scoring.global_record(finished, len(self.route_ids))
        if global_metrics is not None:
            record["metrics"] = global_metrics
            self.data["metrics"] = global_metrics
        self.data["_checkpoint"]["global_record"] = record
        self.data["values"] = scoring.global_values(record)
        self.data["labels"] = list(scoring.GLOBAL_LABELS)
        status = scoring.entry_status_of(finished)
        if len(finished) != len(self.route_ids) and status == "Finished":
            status = "Started"
        self.data["entry_status"] = status
        self.data["eligible"] = scoring.ELIGIBLE_VALUES[status]
        self._write()
        return self.data

    def _write(self) -> None:
        records = [record if record is not None else self.started.get(position)
                   for position, record in enumerate(self.records)]
        self.data["_checkpoint"]["records"] = [record for record in records if record is not None]
        self.data["_checkpoint"]["progress"] = [self.done_count, len(self.route_ids)]
        write_json_atomic(self.path, self.data)
