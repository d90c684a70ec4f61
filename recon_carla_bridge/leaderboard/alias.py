"""Make `import leaderboard.<module>` resolve to `recon_carla_bridge.leaderboard.api.<module>`.

Agent files written for the CARLA leaderboard import `from leaderboard.autoagents import autonomous_agent`.
While the alias is installed, every `leaderboard.X` name is the very module object
`recon_carla_bridge.leaderboard.api.X` (so `isinstance` and class identity hold across both names).
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType

ALIAS_ROOT = "leaderboard"
TARGET_ROOT = "recon_carla_bridge.leaderboard.api"


class _AliasLoader(importlib.abc.Loader):
    """Loads an alias by importing its target and handing back the same module object."""

    def __init__(self, target: str) -> None:
        self._target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        """Return the already-imported target module."""
        return importlib.import_module(self._target)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the target executed when it was imported."""


class LeaderboardAliasFinder(importlib.abc.MetaPathFinder):
    """Meta-path finder answering for `leaderboard` and `leaderboard.*`."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        """A spec for `leaderboard[.X]` when `recon_carla_bridge.leaderboard.api[.X]` exists, else None."""
        if fullname != ALIAS_ROOT and not fullname.startswith(ALIAS_ROOT + "."):
            return None
        target_name = TARGET_ROOT + fullname[len(ALIAS_ROOT):]
        if importlib.util.find_spec(target_name) is None:
            return None
        target_module = importlib.import_module(target_name)
        is_package = hasattr(target_module, "__path__")
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(target_name), is_package=is_package)


def _is_ours(module: ModuleType) -> bool:
    return getattr(module, "__name__", "").startswith(TARGET_ROOT)


def install_leaderboard_alias() -> None:
    """Install the alias for the rest of the process (idempotent)."""
    if not any(isinstance(finder, LeaderboardAliasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, LeaderboardAliasFinder())


@contextlib.contextmanager
def leaderboard_alias() -> Iterator[None]:
    """While active, `leaderboard.*` imports give our modules; afterwards the names are removed again.

    A `leaderboard` package imported earlier from elsewhere (the real one on PYTHONPATH) is set aside for the
    duration and restored afterwards.
    """
    displaced = {name: module for name, module in sys.modules.items()
                 if (name == ALIAS_ROOT or name.startswith(ALIAS_ROOT + ".")) and not _is_ours(module)}
    for name in displaced:
        del sys.modules[name]
    finder = LeaderboardAliasFinder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in [n for n in sys.modules if n == ALIAS_ROOT or n.startswith(ALIAS_ROOT + ".")]:
            if _is_ours(sys.modules[name]):
                del sys.modules[name]
        sys.modules.update(displaced)
