"""The interface every load transport implements, and the event loop they run on."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    pass
from infercost.measurement.results import ProgressTick, RawLevel

# How often the HTTP watchdog checks timeouts and deadlines and reports progress.
TICK_S = 0.05


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
