"""Where an evaluation's routes run: in the evaluating process one after another (the default), in N child
processes of this machine (`--workers N`), or as Ray tasks (`--ray-address`).

Every executor yields `RouteEvent`s to the evaluating process, which alone writes the checkpoint: a route
started, then (in any order) a route's report. Routes run by `RouteContext.run` everywhere, so a route's record
is the same whichever executor ran it and whatever ran before or beside it.
"""
from __future__ import annotations

import multiprocessing.connection
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Protocol

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.leaderboard.config import EvaluatorConfig
from recon_carla_bridge.leaderboard.route_job import RouteContext, RouteReport


@dataclass(frozen=True)
class ExecutionSettings:
    """How to spread the routes (the CLI fills it; none of it changes results).

    Fields:
        workers: child processes running routes at once; None runs them in the evaluating process (no
            containment of native crashes); 1 runs each route in its own child, one at a time. A script that
            calls `evaluate` with workers must keep its top level under `if __name__ == "__main__":`, as
            multiprocessing's children import the main module.
        ray_address: run routes as Ray tasks: 'local' starts a local Ray cluster, 'auto' joins the one `ray start`
            made on this machine, 'HOST:PORT' or 'ray://HOST:PORT' joins that cluster; None: no Ray.
    """

    workers: int | None = None
    ray_address: str | None = None

    def validate(self) -> None:
        """InputError for a worker count below 1 or an empty Ray address."""
        if self.workers is not None and self.workers < 1:
            raise InputError(f"--workers must be >= 1, got {self.workers} (leave it out to run the routes in "
                             "this process)")
        if self.ray_address is not None and not self.ray_address.strip():
            raise InputError("--ray-address is empty (use 'local', 'auto' or HOST:PORT)")


@dataclass(frozen=True)
class RouteEvent:
    """A route started (`report` None) or ended with `report`."""

    position: int
    report: RouteReport | None = None


class Executor(Protocol):
    """Runs routes and reports them as they start and end."""

    def run(self, positions: Sequence[int]) -> Generator[RouteEvent, None, None]:
        """Run the routes at `positions` of the run; closing the generator stops what still runs."""

    def close(self) -> None:
        """Release what the executor holds (processes, a Ray connection)."""


class InProcessExecutor:
    """The routes one after another in this process (a native crash of the agent ends the evaluation)."""

    def __init__(self, context: RouteContext) -> None:
        """Run the routes of `context`."""
        self.context = context

    def run(self, positions: Sequence[int]) -> Generator[RouteEvent, None, None]:
        """Start and finish each route in turn."""
        for position in positions:
            yield RouteEvent(position)
            yield RouteEvent(position, self.context.run(position))

    def close(self) -> None:
        """Nothing to release."""


class ProcessExecutor:
    """Each route in its own child process, `workers` of them at once."""

    def __init__(self, context: RouteContext, worker_config: EvaluatorConfig, workers: int) -> None:
        """`worker_config`: the run's config with absolute paths (what the children rebuild everything from)."""
        from recon_carla_bridge.leaderboard.route_process import process_context

        self.context, self.worker_config, self.workers = context, worker_config, workers
        self.mp_context = process_context()

    def run(self, positions: Sequence[int]) -> Generator[RouteEvent, None, None]:
        """Keep `workers` children busy; yield each start and each report as it comes."""
        from recon_carla_bridge.leaderboard.route_process import RouteProcess, ticket_of

        waiting = list(positions)
        running: list[RouteProcess] = []
        try:
            while waiting or running:
                while waiting and len(running) < self.workers:
                    position = waiting.pop(0)
                    yield RouteEvent(position)
                    running.append(RouteProcess(self.mp_context, self.worker_config, ticket_of(self.context, position)))
                multiprocessing.connection.wait([w for route in running for w in route.waitables])
                for route in list(running):
                    report = route.poll()
                    if report is not None:
                        running.remove(route)
                        yield RouteEvent(route.ticket.position, report)
        finally:
            for route in running:
                route.stop()

    def close(self) -> None:
        """Children are stopped when `run`'s iterator closes."""


def make_executor(settings: ExecutionSettings, context: RouteContext, worker_config: EvaluatorConfig) -> Executor:
    """The executor `settings` ask for (a Ray one connects now: InputError when its cluster does not answer)."""
    settings.validate()
    if settings.ray_address is not None:
        from recon_carla_bridge.leaderboard.ray_executor import RayExecutor

        return RayExecutor(context, worker_config, settings.ray_address, settings.workers)
    if settings.workers is not None:
        return ProcessExecutor(context, worker_config, settings.workers)
    return InProcessExecutor(context)
