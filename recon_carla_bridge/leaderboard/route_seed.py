"""Per-route seeds: a route's random draws depend on the run's seed and the route, never on what ran before it.

The world, its background traffic and the 1.0 scenario sampling are seeded with the run's `--seed` on every
route (a fresh world per route). What else draws random numbers lives in the process and would carry over from
one route to the next: Python's `random`, NumPy's global generator (agents, srunner scenarios such as
ControlLoss), srunner's `CarlaDataProvider._rng` (scenario blueprints, colours, spawn points) and torch's
generator when an agent imported torch. `seed_process_rngs` resets all of them at the start of each route with
`route_seed(run seed, route id)`, so a route gives the same record alone, after other routes, or in a worker.
"""
from __future__ import annotations

import hashlib
import random
import sys

import numpy as np


def route_seed(run_seed: int, route_id: str) -> int:
    """A 32-bit seed from the run's seed and the route's id (e.g. 'RouteScenario_3_rep1'); stable across
    processes and Python versions (SHA-256, not the salted built-in hash)."""
    digest = hashlib.sha256(f"{int(run_seed)}:{route_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def seed_process_rngs(seed: int) -> None:
    """Reseed every process-wide generator a route's agent or scenarios may draw from (see the module doc)."""
    random.seed(seed)
    np.random.seed(seed)
    from recon_carla_bridge.compat_imports import install_srunner_alias

    install_srunner_alias()
    from srunner.scenariomanager.carla_data_provider import CarlaDataProvider

    CarlaDataProvider._random_seed = seed  # what CarlaDataProvider.cleanup() reseeds with
    CarlaDataProvider._rng = np.random.RandomState(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
