"""What a results file was made with: the agent (file and content hash) and every option that changes results.

`--resume` appends routes to an existing checkpoint; if the agent file or such an option differs, the file would
silently mix two different runs. `Checkpoint` stores this identity under `run.identity` and refuses to resume
a checkpoint whose identity differs, listing what changed.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from recon_carla_bridge.leaderboard.config import EvaluatorConfig

# Options whose value changes the routes' results (the CLI flag that sets each, for the error message).
RESULT_OPTIONS = {
    "track": "--track",
    "frame_rate": "frame rate",
    "max_route_seconds": "--max-route-seconds",
    "step_timeout": "--timeout",
    "seed": "seed",
    "agent_config": "--agent-config",
}


def file_sha256(path: Path | str | None) -> str | None:
    """Hex SHA-256 of a file's bytes, or None when there is no such file."""
    if path is None or str(path) == "":
        return None
    candidate = Path(path)
    if not candidate.is_file():
        return None
    digest = hashlib.sha256()
    with candidate.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_identity(config: EvaluatorConfig) -> dict[str, Any]:
    """The agent file (resolved path and SHA-256), the route/scenario files' hashes and the result options."""
    identity: dict[str, Any] = {
        "agent": str(Path(config.agent).resolve()),
        "agent_sha256": file_sha256(config.agent),
        "agent_config_sha256": file_sha256(config.agent_config),
        "routes_sha256": file_sha256(config.routes),
        "scenarios_sha256": file_sha256(config.scenarios),
    }
    for name in RESULT_OPTIONS:
        identity[name] = getattr(config, name)
    return identity


def identity_differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human-readable differences between the identity in a checkpoint and this run's (empty when they agree)."""
    differences = []
    for key in sorted(set(recorded) | set(current)):
        before, now = recorded.get(key), current.get(key)
        if before == now or (key == "agent" and recorded.get("agent_sha256") == current.get("agent_sha256")):
            continue  # the same agent file, moved, is the same agent
        if key == "agent_sha256" and recorded.get("agent") == current.get("agent"):
            differences.append(f"the agent file {current.get('agent')} changed since (sha256 {str(before)[:12]}… "
                               f"now {str(now)[:12]}…)")
        elif key.endswith("_sha256"):
            differences.append(f"{key.removesuffix('_sha256')} file content differs")
        else:
            label = RESULT_OPTIONS.get(key, key)
            differences.append(f"{label}: checkpoint {before!r}, this run {now!r}")
    return differences
