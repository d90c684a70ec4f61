"""Routes as Ray tasks (`recon-carla evaluate --ray-address ADDR`); Ray is imported only here.

Each task runs its route in a child process of the Ray worker (route_process.py), so a native crash of the agent
fails that route with the signal's name, as with `--workers`, instead of a bare WorkerCrashedError. The tasks
write episodes and videos into the run's folder: on a cluster of several machines that folder must be on a
filesystem every node sees (and the package importable there); the evaluating process alone writes the
checkpoint. Before `ray.init` sees an address, a TCP connection to it must succeed within a few seconds, and
ray.init's own attempts to reach the cluster are bounded to a few seconds, so a cluster that does not answer is a
clear error, not a hang.
"""
from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.leaderboard import scoring
from recon_carla_bridge.leaderboard.config import EvaluatorConfig
from recon_carla_bridge.leaderboard.execution import RouteEvent
from recon_carla_bridge.leaderboard.route_job import RouteContext, RouteReport
from recon_carla_bridge.leaderboard.route_process import RouteTicket, failed_report, ticket_of

CONNECT_TIMEOUT = 3.0  # s to wait for a cluster's port to accept a connection
GCS_CONNECT_SECONDS = 4  # attempts (about a second each) of ray.init to reach the cluster's GCS (Ray's default: 20)
PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])  # what a local cluster's workers import the package from


def check_address(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """InputError unless `address` is 'local', 'auto' or a HOST:PORT / ray://HOST:PORT that accepts a TCP
    connection within `timeout` seconds."""
    if address in ("local", "auto"):
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--ray-address {address!r}: expected 'local', 'auto', HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        why = "no answer" if isinstance(error, TimeoutError) else (error.strerror or str(error))
        raise InputError(f"--ray-address {address}: no Ray cluster answers at {host}:{port} ({why} within "
                         f"{timeout:g} s); start one with `ray start --head` or use --ray-address local") from None


def _route_task(config: EvaluatorConfig, ticket: RouteTicket) -> RouteReport:
    """The Ray task: the route in a child process of this Ray worker."""
    from recon_carla_bridge.leaderboard.route_process import run_route_in_child

    return run_route_in_child(config, ticket)


class RayExecutor:
    """Routes as Ray tasks, at most `limit` at once (default: the cluster's CPUs)."""

    def __init__(self, context: RouteContext, worker_config: EvaluatorConfig, address: str,
                 limit: int | None = None) -> None:
        """Connect to the cluster at `address` ('local' starts one of `limit` (default: all) CPUs here)."""
        check_address(address)
        try:
            import ray
        except ImportError:
            raise InputError("--ray-address needs Ray: pip install 'ray[default]'") from None
        self.ray = ray
        self.context, self.worker_config = context, worker_config
        self._started_ray = False
        if not ray.is_initialized():
            options: dict[str, Any] = dict(include_dashboard=False, log_to_driver=True)
            if address in ("local", "auto"):  # this machine: its workers import the package from where this one does
                options["runtime_env"] = {"env_vars": {"PYTHONPATH": _python_path()}}
            try:
                if address == "local":
                    ray.init(num_cpus=limit or os.cpu_count(), **options)
                else:
                    with _gcs_connect_budget(GCS_CONNECT_SECONDS):
                        ray.init(address=address, **options)
            except Exception as error:  # noqa: BLE001 — Ray raises bare Exceptions when its node does not start
                where = "start a local Ray cluster" if address == "local" else "join the Ray cluster"
                raise InputError(f"--ray-address {address}: cannot {where}: {error} (Ray's logs: "
                                 "/tmp/ray/session_latest/logs)") from None
            self._started_ray = True
        self.limit = limit or max(int(ray.cluster_resources().get("CPU", 1)), 1)
        self.task = ray.remote(num_cpus=1, max_retries=0)(_route_task)

    def run(self, positions: Sequence[int]) -> Generator[RouteEvent, None, None]:
        """Submit up to `limit` tasks at a time; yield each start and each report as it comes."""
        waiting = list(positions)
        running: dict[Any, tuple[RouteTicket, float]] = {}
        try:
            while waiting or running:
                while waiting and len(running) < self.limit:
                    position = waiting.pop(0)
                    yield RouteEvent(position)
                    ticket = ticket_of(self.context, position)
                    running[self.task.remote(self.worker_config, ticket)] = (ticket, time.time())
                done, _ = self.ray.wait(list(running), num_returns=1)
                for reference in done:
                    ticket, started = running.pop(reference)
                    yield RouteEvent(ticket.position, self._report(reference, ticket, started))
        finally:
            for reference in running:
                self.ray.cancel(reference, force=True)

    def _report(self, reference: Any, ticket: RouteTicket, started: float) -> RouteReport:
        try:
            return self.ray.get(reference)
        except self.ray.exceptions.RayError as error:  # the Ray worker itself died or the task failed
            report = failed_report(ticket, scoring.FAILURE_MESSAGES["Simulation"][1],
                                   f"the Ray task failed: {type(error).__name__}: {error}"[:2000], (0.0, 0.0),
                                   time.time() - started)
            report.record["meta"]["exit"] = type(error).__name__
            return report

    def close(self) -> None:
        """Shut down the Ray connection this executor made (one the caller made stays)."""
        if self._started_ray:
            self.ray.shutdown()
            self._started_ray = False


@contextlib.contextmanager
def _gcs_connect_budget(seconds: int) -> Iterator[None]:
    """Bound ray.init's attempts to reach a GCS (a port that accepts connections but is not Ray's would
    otherwise cost 20 s) unless the user set RAY_gcs_server_port_wait_time_s."""
    name = "RAY_gcs_server_port_wait_time_s"
    if name in os.environ:
        yield
        return
    os.environ[name] = str(seconds)
    try:
        yield
    finally:
        os.environ.pop(name, None)


def _python_path() -> str:
    """PYTHONPATH for the cluster's workers: this package's folder first, then the caller's."""
    existing = os.environ.get("PYTHONPATH", "")
    return PACKAGE_PARENT + (os.pathsep + existing if existing else "")
