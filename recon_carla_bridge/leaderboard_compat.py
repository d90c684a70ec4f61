"""The `leaderboard.*` import path for agent files (delegates to recon_carla_bridge.leaderboard)."""
from __future__ import annotations


def install_leaderboard_alias() -> None:
    """Make `from leaderboard.autoagents import autonomous_agent` import our implementation, if built."""
    try:
        from recon_carla_bridge.leaderboard import install_leaderboard_alias as install
    except ImportError:
        return
    install()
