"""The interface every load transport implements, and the event loop they run on."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from infercost.measurement.results import ProgressTick, RawLevel

# How often the HTTP watchdog checks timeouts and deadlines and reports progress.
TICK_S = 0.05


class LoopWatch:
    """How busy the client was during one level: the CPU time of the event loop's thread (the
    client's own work; a model server in the same process runs on other threads) and how late the
    loop ran its watchdog timer. A loop that is always on CPU, or whose timers fire late, sends
    the next request when it can and not when the endpoint could take it (docs/method.md §2)."""

    __slots__ = ("cpu0", "lags_ms", "last", "raw")

    def __init__(self, raw: RawLevel) -> None:
        self.raw = raw
        self.cpu0 = time.thread_time()
        self.last = time.perf_counter()
        self.lags_ms: list[float] = []

    def woke(self, now: float) -> None:
        self.lags_ms.append(max(0.0, (now - self.last - TICK_S) * 1000.0))
        self.last = now

    def stop(self) -> None:
        raw = self.raw
        if raw.duration_s > 0:
            raw.client_cpu_share = min(1.0, (time.thread_time() - self.cpu0) / raw.duration_s)
        if self.lags_ms:
            raw.client_lag_ms = sum(self.lags_ms) / len(self.lags_ms)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (the `local` extra): its I/O callbacks cost
    less Python per request, which is most of a load generator's work; asyncio's otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


class Transport(Protocol):
    """Sends one payload `requests` times with `concurrency` in flight; reports raw results."""

    description: str

    def run_level(
        self,
        payload: bytes,
        requests: int,
        concurrency: int,
        *,
        deadline: float,
        max_errors: int | None = None,
        tick: ProgressTick | None = None,
    ) -> RawLevel:
        """Run one level; stop issuing at `deadline` (monotonic) or after `max_errors` errors."""
        ...

    def close(self) -> None:
        """Release connections, threads and clients."""
        ...
