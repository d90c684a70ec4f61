"""The package's layering: the world engine and the sensor models do not import each other (sensors read
what the world hands them each tick), the world does not reach up into scene code, and no package imports
another's private names."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "recon_carla_bridge"


def _imports(folder: str) -> dict[str, set[str]]:
    """{module path: every recon_carla_bridge module it imports (at any level, TYPE_CHECKING included)}."""
    found: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(PACKAGE))] = {n for n in names if n.startswith("recon_carla_bridge")}
    return found


def _offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{module} imports {name}" for module, names in _imports(folder).items()
            for name in sorted(names) if name.startswith(forbidden)]


def test_sensors_do_not_import_the_world() -> None:
    assert _offenders("sensors", ("recon_carla_bridge.world",)) == []


def test_the_world_imports_no_scene_code() -> None:
    scene_code = ("recon_carla_bridge.scene", "recon_carla_bridge.recon", "recon_carla_bridge.leaderboard",
                  "recon_carla_bridge.demo")
    assert _offenders("world", scene_code) == []
    assert _offenders("sensors", scene_code) == []


def test_no_private_names_are_imported_across_packages() -> None:
    crossings = []
    for folder in [p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()]:
        for module, names in _imports(folder).items():
            for name in names:
                parts = name.split(".")
                if len(parts) > 2 and parts[1] != folder and parts[-1].startswith("_") and not parts[-1].startswith("__"):
                    crossings.append(f"{module} imports {name}")
    assert crossings == []


def test_world_and_sensors_import_without_a_cycle() -> None:
    import subprocess
    import sys

    for first in ("recon_carla_bridge.sensors.models", "recon_carla_bridge.sensors.camera", "recon_carla_bridge.world.world"):
        result = subprocess.run([sys.executable, "-c", f"import {first}"], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
