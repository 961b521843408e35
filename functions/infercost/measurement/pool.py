"""A local process pool that drives one level from several processes (the CLI's --workers)."""

from __future__ import annotations

import pickle
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.pool import Pool
from infercost.measurement.results import RawLevel
from infercost.measurement.sweep import share_of
from infercost.measurement.transport import Transport

_worker_transport: Transport | None = None


_worker_payload = b""


def _init_worker(transport_state: bytes, payload: bytes) -> None:
    global _worker_transport, _worker_payload
    _worker_transport = pickle.loads(transport_state)
    _worker_payload = payload


def _worker_level(requests: int, concurrency: int, deadline_in_s: float) -> RawLevel:
    assert _worker_transport is not None
    deadline = time.monotonic() + deadline_in_s
    return _worker_transport.run_level(_worker_payload, requests, concurrency, deadline=deadline)


class WorkerPool:
    """Processes that each hold their own connections and run a share of every level at once."""

    def __init__(self, transport: Transport, payload: bytes, workers: int) -> None:
        import multiprocessing

        self.workers = workers
        context = multiprocessing.get_context("spawn")
        self.pool: Pool = context.Pool(
            workers, initializer=_init_worker, initargs=(pickle.dumps(transport), payload)
        )

    def run_level(self, requests: int, concurrency: int, *, deadline_in_s: float) -> RawLevel:
        count = min(self.workers, concurrency)
        jobs = [
            (
                share_of(requests, count, index),
                share_of(concurrency, count, index),
                max(0.0, deadline_in_s),
            )
            for index in range(count)
        ]
        parts: list[RawLevel] = self.pool.starmap(_worker_level, jobs)
        merged = parts[0]
        for part in parts[1:]:
            merged = merged.merged_with(part)
        return merged

    def close(self) -> None:
        self.pool.close()
        self.pool.join()
