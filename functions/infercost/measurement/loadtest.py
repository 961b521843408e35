"""Load generation: warm-up, the concurrency sweep, then the measured serial run, within a time
budget (docs/method.md, section 2)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from infercost.domain.models import (
    LoadPlan,
    Slo,
)

if TYPE_CHECKING:
    pass
from infercost.measurement.pool import WorkerPool
from infercost.measurement.results import (
    FAIL_FAST_AFTER,
    LoadProgress,
    LoadTestError,
    LoadTestResult,
    Phase,
    ProgressTick,
    RawLevel,
    max_rps_at_slo,
)
from infercost.measurement.sagemaker import CREDENTIAL_CODES
from infercost.measurement.sweep import (
    Sweep,
    SweepShare,
    SweepStep,
    ends_sweep,
    sweep_share,
)
from infercost.measurement.transport import Transport


class _Clock:
    """The time budget of one load test."""

    def __init__(self, budget_s: float | None) -> None:
        self.start = time.monotonic()
        self.deadline = self.start + budget_s if budget_s is not None else math.inf

    def until(self, deadline: float) -> _Clock:
        """The same clock with an earlier deadline (for a phase that must leave time for another)."""
        phase = _Clock(None)
        phase.start = self.start
        phase.deadline = min(self.deadline, deadline)
        return phase

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def elapsed(self) -> float:
        return time.monotonic() - self.start


def _ticker(
    progress: Callable[[LoadProgress], None] | None,
    phase: Phase,
    concurrency: int,
    total: int,
    clock: _Clock,
) -> ProgressTick | None:
    if progress is None:
        return None

    def tick(done: int) -> None:
        progress(LoadProgress(phase, concurrency, min(done, total), total, clock.elapsed()))

    return tick


def _serial(
    transport: Transport,
    payload: bytes,
    count: int,
    phase: Phase,
    clock: _Clock,
    progress: Callable[[LoadProgress], None] | None,
    previous_failures: int,
) -> RawLevel:
    """A serial phase; fails fast when the first requests of the test all fail."""
    tick = _ticker(progress, phase, 1, count, clock)
    probe = min(count, FAIL_FAST_AFTER - previous_failures)
    if probe <= 0:
        return transport.run_level(payload, count, 1, deadline=clock.deadline, tick=tick)
    first = transport.run_level(payload, probe, 1, deadline=clock.deadline, tick=tick)
    if not first.latencies_ms and previous_failures + first.completed >= FAIL_FAST_AFTER:
        _raise_unusable(transport, first, previous_failures + first.completed)
    if count == probe or clock.expired():
        return first
    rest = transport.run_level(
        payload, count - probe, 1, deadline=clock.deadline, tick=_offset(tick, first.completed)
    )
    return _concat(first, rest)


def _offset(tick: ProgressTick | None, done: int) -> ProgressTick | None:
    if tick is None:
        return None
    return lambda more: tick(done + more)


def _concat(first: RawLevel, second: RawLevel) -> RawLevel:
    joined = first.merged_with(second)
    joined.concurrency = first.concurrency
    joined.duration_s = first.duration_s + second.duration_s
    return joined


_HINTS = {
    "connection": "check that the endpoint is up (InService) and reachable",
    "timeout": "check that the endpoint is up (InService) and answers within the timeout",
    "http_4xx": "check that the payload and content type suit the model",
    "throttled": "the endpoint refuses the rate: check its quotas and concurrency",
    "stream": "the response stream broke: check the endpoint's logs and that the model streams",
    "credentials": "renew the AWS credentials (expired or not valid) and check that they may call "
    "sagemaker:InvokeEndpoint on this endpoint",
}


def _raise_unusable(transport: Transport, raw: RawLevel, attempts: int) -> None:
    if not raw.errors:
        raise LoadTestError(
            f"no request to {transport.description} completed ({raw.aborted or 'no time left'})"
        )
    kind, _ = raw.errors.most_common(1)[0]
    example = raw.examples.get(kind, kind)
    raise LoadTestError(
        f"the first {attempts} requests to {transport.description} all failed ({kind}): {example}",
        # InvokeEndpoint answers a missing or not-InService endpoint with a 400 ValidationError.
        hint=_HINTS["credentials"]
        if any(code in example for code in CREDENTIAL_CODES)
        else _HINTS["connection"]
        if "Endpoint " in example
        else _HINTS.get(kind, "check the endpoint's logs"),
    )


def run_load_test(
    transport: Transport,
    payload: bytes,
    plan: LoadPlan,
    *,
    slo: Slo | None = None,
    progress: Callable[[LoadProgress], None] | None = None,
    time_budget_s: float | None = None,
    workers: int = 1,
    minute_aligned: bool = False,
    fresh_second: bool = False,
    swept: Sweep | None = None,
) -> LoadTestResult:
    """Warm-up (discarded), the concurrency sweep, then `plan.requests` measured one in flight.

    The measured run comes last so that the CloudWatch window from its start to its end plus a
    buffer holds no other request; `minute_aligned` also starts it on a fresh minute, because
    CloudWatch aggregates SageMaker's latency per minute (a deployed run sets it); `fresh_second`
    starts it on a fresh second, for metrics kept per second (the local stack's model servers). The sweep runs each level > 1 of
    `plan.concurrency` and stops at the first level that misses the SLO or exceeds
    `plan.max_error_rate`. With `workers` > 1 the sweep levels are driven by that
    many processes at once (each holds its share of the connections). `swept` is a sweep already
    run elsewhere (the workflow's workers, `merge_sweep_shares`): then only the warm-up and the
    measured run are driven here. When the time budget runs out the result is marked partial.
    """
    clock = _Clock(time_budget_s)
    notes: list[str] = []

    warm = RawLevel(1)
    if plan.warmup:
        warm = _serial(transport, payload, plan.warmup, "warmup", clock, progress, 0)
        if warm.errors:
            notes.append(f"warm-up: {sum(warm.errors.values())} of {warm.completed} requests failed")
    warm_failures = 0 if warm.latencies_ms else warm.completed

    # The endpoint's first request: the sweep workers' when they ran before, else this warm-up's.
    first_request_ms = swept.first_request_ms if swept is not None else _first_request_ms(warm)
    if swept is None:
        # The sweep runs first but must leave the measured run its time.
        sweep_clock = clock.until(clock.deadline - _measured_reserve_s(plan, warm, clock, minute_aligned))
        swept = _sweep(transport, payload, sweep_share(plan, 1, 0), plan, slo, sweep_clock, progress, workers)
    sweep = swept.levels
    notes.extend(swept.notes)
    partial = swept.partial

    if minute_aligned:
        _wait_for_next_minute(clock, notes)
    elif fresh_second:
        _wait_for_next_second(clock)
    started_at = time.time()
    serial = _serial(transport, payload, plan.requests, "measured", clock, progress, warm_failures)
    ended_at = time.time()
    if not serial.latencies_ms:
        _raise_unusable(transport, serial, warm_failures + serial.completed)
    measured = serial.to_level()
    if serial.completed < plan.requests:
        partial = True
        notes.append(
            f"measured run stopped after {serial.completed} of {plan.requests} requests: {serial.aborted}"
        )
    if measured.errors:
        notes.append(
            f"measured run: {measured.describe_errors()}; latency is of the {measured.ok} successes only"
        )

    best_rps = max_rps_at_slo([measured, *sweep], slo, max_error_rate=plan.max_error_rate)
    client_bound = [level for level in [measured, *sweep] if level.client_bound]
    if client_bound and best_rps is not None:
        notes.append(
            f"max RPS at the SLO ({best_rps:.1f}) is a lower bound: the load client was saturated at "
            f"concurrency {client_bound[0].concurrency}, not the endpoint"
        )
    abandoned = serial.abandoned + swept.abandoned
    if abandoned:
        notes.append(f"{abandoned} requests in flight when the time budget ran out were not counted")
    return LoadTestResult(
        started_at=started_at,
        ended_at=ended_at,
        measured=measured,
        sweep=sweep,
        max_rps_at_slo=best_rps,
        slo=slo,
        client_bound=bool(client_bound),
        partial=partial,
        notes=notes,
        first_request_ms=first_request_ms,
    )


def _sweep(
    transport: Transport,
    payload: bytes,
    steps: Sequence[SweepStep],
    plan: LoadPlan,
    slo: Slo | None,
    clock: _Clock,
    progress: Callable[[LoadProgress], None] | None,
    workers: int = 1,
) -> Sweep:
    """Run `steps` in order; stop after the first that misses the SLO or the error budget."""
    swept = Sweep()
    max_error_rate = plan.max_error_rate
    pool = WorkerPool(transport, payload, workers) if workers > 1 and steps else None
    try:
        for step in steps:
            if clock.expired():
                swept.partial = True
                swept.notes.append(f"time budget ran out before concurrency {step.concurrency}")
                break
            tick = _ticker(progress, "sweep", step.concurrency, step.requests, clock)
            if pool is not None:
                raw = pool.run_level(
                    step.requests, step.concurrency, deadline_in_s=clock.deadline - time.monotonic()
                )
                if tick is not None:
                    tick(raw.completed)
            else:
                raw = transport.run_level(
                    payload,
                    step.requests,
                    step.concurrency,
                    deadline=clock.deadline,
                    max_errors=math.floor(max_error_rate * step.requests),
                    tick=tick,
                )
            level = raw.to_level()
            previous = swept.levels[-1] if swept.levels else None
            swept.levels.append(level)
            swept.abandoned += raw.abandoned
            if raw.aborted == "time budget ran out":
                swept.partial = True
                swept.notes.append(f"time budget ran out during concurrency {step.concurrency}")
                break
            if ends_sweep(level, plan, slo, swept.notes, previous):
                break
    finally:
        if pool is not None:
            pool.close()
    return swept


def run_sweep_share(
    transport: Transport,
    payload: bytes,
    plan: LoadPlan,
    *,
    worker: int,
    workers: int,
    slo: Slo | None = None,
    time_budget_s: float | None = None,
    progress: Callable[[LoadProgress], None] | None = None,
) -> SweepShare:
    """One worker of a fanned-out sweep: a share of the warm-up (to open its connections), then its
    share of each level. The shares of all workers merge with `merge_sweep_shares`."""
    clock = _Clock(time_budget_s)
    steps = sweep_share(plan, workers, worker)
    notes: list[str] = []
    warmup = math.ceil(plan.warmup / workers)
    first_request_ms = None
    if warmup and steps:
        warm = _serial(transport, payload, warmup, "warmup", clock, progress, 0)
        first_request_ms = _first_request_ms(warm)
        if warm.errors:
            notes.append(f"warm-up: {sum(warm.errors.values())} of {warm.completed} requests failed")
    swept = _sweep(transport, payload, steps, plan, slo, clock, progress)
    if swept.abandoned:
        notes.append(f"{swept.abandoned} requests in flight when the time budget ran out were not counted")
    return SweepShare(
        worker=worker,
        workers=workers,
        levels=[step.level for step in steps[: len(swept.levels)]],
        sweep=swept.levels,
        partial=swept.partial,
        notes=[*notes, *swept.notes],
        first_request_ms=first_request_ms,
    )


def _first_request_ms(warm: RawLevel) -> float | None:
    """The warm-up's first request (on a new endpoint, its cold start); None when some warm-up
    request failed, since the first success may then not be the first request."""
    return warm.latencies_ms[0] if warm.latencies_ms and not warm.errors else None


def _measured_reserve_s(plan: LoadPlan, warm: RawLevel, clock: _Clock, minute_aligned: bool) -> float:
    """Seconds to keep for the measured run: its requests at the warm-up's pace, with a margin."""
    if clock.deadline == math.inf:
        return 0.0
    if warm.latencies_ms:
        pace_s = sum(warm.latencies_ms) / len(warm.latencies_ms) / 1000
        return plan.requests * pace_s * 1.5 + (61.0 if minute_aligned else 0.0) + 1.0
    # No warm-up to learn the pace from: split what is left.
    return max(0.0, clock.deadline - time.monotonic()) / 2


def _wait_for_next_minute(clock: _Clock, notes: list[str]) -> None:
    """Sleep until one second past the next minute boundary, within the time budget."""
    wait_s = 61 - time.time() % 60
    if time.monotonic() + wait_s >= clock.deadline:
        notes.append(
            "no time left to start the measured run on a fresh minute; CloudWatch may mix in the sweep"
        )
        return
    time.sleep(wait_s)


def _wait_for_next_second(clock: _Clock) -> None:
    """Sleep just past the next whole second, so no earlier request shares a per-second datapoint."""
    wait_s = 1.01 - time.time() % 1
    if time.monotonic() + wait_s < clock.deadline:
        time.sleep(wait_s)
