"""Camera images rendered on the GPU reach their callbacks from a worker thread, as in CARLA.

A CARLA server sends sensor data after `world.tick()` returns, and client callbacks run on a thread
of the client library; synchronous-mode users wait for it (typically on a queue). We do the same for
cameras rendered by an asynchronous backend (gsplat on CUDA): tick N launches its renders on the
GPU and returns; a single worker waits for the GPU, wraps the bytes and calls the callbacks, in tick
order. Tick N+1 finishes its world step while the GPU still renders tick N, then waits for tick N's
delivery before it launches its own renders: at most one tick is in flight, so data arrive in order
and never lag more than a tick behind the world.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable


class SensorDelivery:
    """One worker thread that runs delivery jobs in submission order; at most one job pending."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future | None = None

    def submit(self, job: Callable[[], None]) -> None:
        """Run `job` on the worker after the previous job has finished (waits for that one first)."""
        self.wait()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recon-sensor-delivery")
        self._pending = self._executor.submit(job)

    def wait(self) -> None:
        """Block until the pending job is done; re-raise what it raised (a render failure)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    @property
    def busy(self) -> bool:
        """Whether a job was submitted and has not been waited for."""
        return self._pending is not None

    def close(self) -> None:
        """Deliver what is pending and stop the worker."""
        try:
            self.wait()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
