"""A route in its own child process: a native crash of the agent (SIGSEGV, os._exit) fails that route with the
reason, and the evaluation goes on; a process killed from outside (SIGKILL: the OOM killer, a user) runs its
route once more, then fails it.

`RouteProcess` starts the child (multiprocessing 'forkserver' with this module preloaded, so a child
starts in milliseconds with carla and srunner imported; 'spawn' where forkserver is missing). The child builds
its own world and agent from the run's config (only the config and the route's ticket are pickled),
writes the episode and video into the run's folder and sends its `RouteReport` back through a pipe. While it
runs it keeps, in shared memory, which call it is in (world, agent setup, run_step, destroy) and how far the
route got, so that when it dies without a report `RouteProcess.poll` can say what died, how (the signal's
name or the exit code), where and when.
"""
from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from recon_carla_bridge.leaderboard import scoring
from recon_carla_bridge.leaderboard.config import EvaluatorConfig
from recon_carla_bridge.leaderboard.events import TrafficEvent, TrafficEventType
from recon_carla_bridge.leaderboard.route_job import RouteContext, RouteReport
from recon_carla_bridge.leaderboard.route_runner import RouteObserver

PHASES = ("starting", "world", "agent setup", "agent run_step", "agent destroy")
# Exit codes of a route process that was killed from outside (the OOM killer, a user), not by what it ran: its
# route runs once more. A native crash (SIGSEGV, SIGABRT, os._exit) would repeat, so it fails the route at once.
RETRIED_EXITS = (-signal.SIGKILL,)
# Imported once by the fork server, so that a route's process starts with them (scipy alone takes ~2 s); a name
# that does not import (CARLA's `agents` package outside the repository) is skipped by multiprocessing.
PRELOAD = [__name__, "recon_carla_bridge.leaderboard.metrics.rad", "recon_carla_bridge.leaderboard.metrics.bench2drive",
           "recon_carla_bridge.leaderboard.metrics.alpasim", "recon_carla_bridge.leaderboard.metrics.hugsim",
           "recon_carla_bridge.leaderboard.scenario_host", "recon_carla_bridge.leaderboard.route_warmup",
           "agents.navigation.basic_agent"]


def process_context() -> multiprocessing.context.BaseContext:
    """'forkserver' (children forked from a server that imported this module once) where the platform has it,
    else 'spawn'; never plain fork, which would copy the evaluating process's threads and state."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


class SharedRouteState(RouteObserver):
    """Where a route's process is (phase, simulated seconds, % completed), in memory its parent still reads after
    the process died."""

    def __init__(self, context: multiprocessing.context.BaseContext) -> None:
        """Allocate the shared values (phase index, sim seconds, completion %)."""
        self.values = context.RawArray(ctypes.c_double, 3)

    @property
    def phase(self) -> str:
        """What the process was doing: one of PHASES."""
        return PHASES[int(self.values[0])]

    def set_phase(self, phase: str) -> None:
        """Enter `phase` (one of PHASES)."""
        self.values[0] = PHASES.index(phase)

    @contextlib.contextmanager
    def agent_call(self, what: str) -> Iterator[None]:
        """Mark the agent's `what` call ('setup', 'run_step', 'destroy') while it runs."""
        previous = self.values[0]
        self.set_phase(f"agent {what}")
        try:
            yield
        finally:
            self.values[0] = previous

    def tick(self, sim_seconds: float, completion_percent: float) -> None:
        """Keep the route's progress after a tick."""
        self.values[1] = sim_seconds
        self.values[2] = completion_percent

    @property
    def progress(self) -> tuple[float, float]:
        """(simulated seconds, % of the route completed) at the last tick."""
        return float(self.values[1]), float(self.values[2])


@dataclass(frozen=True)
class RouteTicket:
    """What the evaluation knows of a route before running it: enough to score it if its process dies.

    Fields:
        position: index in the run's route instances.
        route_id: leaderboard route id.
        town: the route's map.
        repetition: which repetition of its route.
        length: planned route length (m).
    """

    position: int
    route_id: str
    town: str
    repetition: int
    length: float


def ticket_of(context: RouteContext, position: int) -> RouteTicket:
    """The ticket of route `position` of `context`'s run."""
    route, repetition, route_id = context.instances[position]
    return RouteTicket(position, route_id, route.town, repetition, context.planned(route).length)


def describe_exit(exitcode: int | None) -> str:
    """'was killed by SIGSEGV (signal 11)' or 'exited with code 3' for a process's exit code."""
    if exitcode is None:
        return "did not exit"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"was killed by {name} (signal {-exitcode})"
    return f"exited with code {exitcode}"


def failed_report(ticket: RouteTicket, failure: str, reason: str, progress: tuple[float, float],
                  wall_seconds: float) -> RouteReport:
    """The record of a route that ended without its own report: status 'Failed - <failure>', `reason` in its
    meta, route completion as far as `progress` (sim seconds, %) got; no infraction is known."""
    sim_seconds, completion = progress
    record = scoring.new_route_record(ticket.route_id, ticket.position)
    record["meta"]["failure_reason"] = reason
    events = ((TrafficEvent(TrafficEventType.ROUTE_COMPLETION, 0, data={"route_completed": completion}),)
              if completion > 0 else ())
    outcome = scoring.RouteOutcome(events, ticket.length, sim_seconds, wall_seconds, failure_message=failure)
    record = scoring.score_route(record, outcome, ticket.position)
    record["meta"]["town"] = ticket.town
    record["meta"]["repetition"] = ticket.repetition
    return RouteReport(ticket.position, record)


def died_report(ticket: RouteTicket, exitcode: int | None, phase: str, progress: tuple[float, float],
                wall_seconds: float) -> RouteReport:
    """The record of a route whose process died without reporting: failed as the agent's crash when it died in
    an agent call ('Agent couldn't be set up' during setup), else as a simulation crash; route completion as far
    as it got; the infractions it had are lost with the process (said in the reason)."""
    if phase == "agent setup":
        failure = scoring.FAILURE_MESSAGES["Agent_init"][1]
    elif phase.startswith("agent"):
        failure = scoring.FAILURE_MESSAGES["Agent_runtime"][1]
    else:
        failure = scoring.FAILURE_MESSAGES["Simulation"][1]
    sim_seconds, completion = progress
    reason = (f"the route's process {describe_exit(exitcode)} during {phase} at {sim_seconds:.2f} simulated s "
              f"({completion:.1f} % of the route; infractions before it are not known)")
    report = failed_report(ticket, failure, reason, progress, wall_seconds)
    report.record["meta"]["exit"] = describe_exit(exitcode)
    return report


def _exit_with_parent() -> None:
    """Kill this process when the process that started it dies (a killed evaluation leaves no orphan driving
    on and writing into the run's folder). multiprocessing's parent sentinel is watched, not the OS parent: with
    'forkserver' that is the fork server, which outlives the evaluation while any route process is alive."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _route_process_main(config: EvaluatorConfig, ticket: RouteTicket, state: SharedRouteState,
                        connection: multiprocessing.connection.Connection) -> None:
    """Child process: run one route and send its report. A Ctrl-C is the evaluating process's to handle (it
    ends the children), so SIGINT is ignored here."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.enable()  # a native crash prints the Python stack it happened in (the agent's line)
    _exit_with_parent()
    start = time.time()
    print(f"  {ticket.route_id}: running in process {os.getpid()}", flush=True)
    try:
        context = RouteContext(config)
        state.set_phase("world")
        report = context.run(ticket.position, observer=state)
    except Exception as error:  # noqa: BLE001 — outside the route's own handling: the simulation failed
        traceback.print_exc()
        report = failed_report(ticket, scoring.FAILURE_MESSAGES["Simulation"][1], f"{type(error).__name__}: {error}",
                               state.progress, time.time() - start)
    connection.send(report)
    connection.close()
    sys.stdout.flush()


class RouteProcess:
    """A route running in a child process; run once more when the first process was killed by SIGKILL."""

    def __init__(self, context: multiprocessing.context.BaseContext, config: EvaluatorConfig,
                 ticket: RouteTicket) -> None:
        """Start the child for `ticket` with `config`."""
        self.context, self.config, self.ticket = context, config, ticket
        self.retried_after = ""  # why the first process ended, when the route was run once more
        self._start()

    def _start(self) -> None:
        self.state = SharedRouteState(self.context)
        self.connection, child_end = self.context.Pipe(duplex=False)
        self.process = self.context.Process(target=_route_process_main,
                                            args=(self.config, self.ticket, self.state, child_end),
                                            name=f"route-{self.ticket.route_id}", daemon=True)
        self.started = time.time()
        self.process.start()
        child_end.close()
        self._report: RouteReport | None = None

    @property
    def waitables(self) -> list[Any]:
        """What `multiprocessing.connection.wait` watches: the pipe until the report came, and the process."""
        return [self.process.sentinel] if self._report is not None else [self.connection, self.process.sentinel]

    def poll(self) -> RouteReport | None:
        """The route's report once the process ended (its own, or one that says how it died), else None."""
        if self._report is None and self.connection.poll():
            try:
                self._report = self.connection.recv()
            except (EOFError, OSError):
                pass
        if self.process.is_alive():
            return None
        self.process.join()
        self.connection.close()
        if self._report is None:
            report = died_report(self.ticket, self.process.exitcode, self.state.phase, self.state.progress,
                                 time.time() - self.started)
            if self.process.exitcode in RETRIED_EXITS and not self.retried_after:
                self.retried_after = report.record["meta"]["failure_reason"]
                print(f"  {self.ticket.route_id}: {self.retried_after}; running the route once more", flush=True)
                self._start()
                return None
            self._report = report
        if self.retried_after:
            self._report.record["meta"]["retried_after"] = self.retried_after
        return self._report

    def wait(self) -> RouteReport:
        """Block until the route ended; its report."""
        while True:
            multiprocessing.connection.wait(self.waitables)
            report = self.poll()
            if report is not None:
                return report

    def stop(self) -> None:
        """End the child now (SIGTERM, then SIGKILL after 5 s)."""
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5.0)
            if self.process.is_alive():
                self.process.kill()
        self.process.join()
        self.connection.close()


def run_route_in_child(config: EvaluatorConfig, ticket: RouteTicket) -> RouteReport:
    """Run one route in a child process and return its report (what a Ray task runs)."""
    route = RouteProcess(process_context(), config, ticket)
    try:
        return route.wait()
    finally:
        route.stop()
