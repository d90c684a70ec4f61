"""Leaderboard agent files (each defines get_entry_point()) to run with `recon-carla evaluate --agent FILE`."""
