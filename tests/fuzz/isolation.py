"""Run one fuzz case in a forked child process: a native crash (signal) or a hang is seen, not suffered.

The parent has imported carla and recon_carla_bridge already, so a fork starts a case in milliseconds. The child
returns what happened through a pipe: "ok" with a short detail, or the exception's type and message; the parent
reports "signal" (the child died of one, e.g. SIGSEGV) or "hang" (it ran past the timeout and was killed).
"""
from __future__ import annotations

import json
import multiprocessing
import os
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

HANG_SECONDS = float(os.environ.get("RECON_FUZZ_HANG_SECONDS", "20"))
SCALE = max(1, int(os.environ.get("RECON_FUZZ_SCALE", "1")))  # examples = base x SCALE for longer local runs
LOG = os.environ.get("RECON_FUZZ_LOG")  # append one JSON line per case here (for the long-run report)


@dataclass(frozen=True)
class Outcome:
    """What a case did: kind is ok | error | signal | hang; error_type and detail say more."""

    kind: str
    error_type: str = ""
    detail: str = ""


def _child(connection: Any, function: Callable[..., Any], args: tuple) -> None:
    try:
        detail = function(*args)
        connection.send(("ok", "", str(detail)[:500]))
    except BaseException as error:  # noqa: BLE001 — everything is reported to the parent
        connection.send(("error", type(error).__name__, f"{error}"[:500] + "\n" + traceback.format_exc(limit=4)[-1500:]))
    finally:
        connection.close()
        os._exit(0)  # skip atexit and finalizers of the forked copy


def run_isolated(function: Callable[..., Any], *args: Any, timeout: float = HANG_SECONDS, target: str = "") -> Outcome:
    """Run `function(*args)` in a forked child; its Outcome (a signal or a hang included)."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, function, args), daemon=True)
    started = time.monotonic()
    process.start()
    sender.close()
    outcome: Outcome | None = None
    answered = receiver.poll(timeout)  # True too when the child died: its end of the pipe closed
    if answered:
        try:
            kind, error_type, detail = receiver.recv()
            outcome = Outcome(kind, error_type, detail)
        except EOFError:
            pass
    process.join(5.0 if answered else 0.0)
    if process.is_alive():
        process.kill()
        process.join()
        if outcome is None:
            outcome = Outcome("hang", "", f"no result within {timeout:g} s")
    if outcome is None:
        code = process.exitcode
        outcome = Outcome("signal", f"signal {-code}" if code is not None and code < 0 else f"exit {code}",
                          "the child died without reporting")
    receiver.close()
    if LOG:
        with open(LOG, "a", encoding="utf-8") as stream:
            stream.write(json.dumps({"target": target, "kind": outcome.kind, "error_type": outcome.error_type,
                                     "detail": outcome.detail.splitlines()[0] if outcome.detail else "",
                                     "seconds": round(time.monotonic() - started, 3)}) + "\n")
    return outcome


def describe(outcome: Outcome, case: Any) -> str:
    """A failure message with the case that produced it."""
    return f"{outcome.kind} {outcome.error_type}: {outcome.detail}\ncase: {case!r}"[:4000]


def fuzz_settings(examples: int) -> Any:
    """Hypothesis settings of a fuzz test: `examples` x RECON_FUZZ_SCALE cases, no deadline (each forks a child)."""
    from hypothesis import HealthCheck, settings

    return settings(max_examples=examples * SCALE, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
