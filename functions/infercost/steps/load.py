"""LoadWorker and LoadTest: drive load at a candidate's endpoint (sweep shares, then the measured run)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pydantic import Field

from infercost.data import artifacts
from infercost.data.store import ResultsStore
from infercost.domain.results import LlmStats
from infercost.domain.workflow import (
    release_wait_seconds,
)

if TYPE_CHECKING:
    from infercost.data.settings import (
        Settings,  # loadgen is imported where it is used (cold start of the other steps)
    )
    from infercost.measurement.sweep import Sweep
    from infercost.measurement.transport import Transport
from infercost.steps.common import CandidateState, LoadSummary, SweepShareRef, candidate_record, run_key


class LoadWorkerEvent(CandidateState):
    worker: int = Field(ge=0)


@contextmanager
def _driving(state: CandidateState, s3: Any) -> Iterator[tuple[Transport, bytes]]:
    """The candidate's endpoint as a load transport (closed afterwards), and the request body."""
    from infercost.measurement import targets

    workload = state.benchmark.workload
    transport: Transport
    if workload is not None:
        from infercost.measurement.llm import llm_endpoint_transport
        from infercost.steps.workload import load_prompts

        prompts = load_prompts(s3, state.run.artifact.bucket, workload)
        payload = b""  # each request is one of the prompts, in turn
        transport = llm_endpoint_transport(
            state.candidate.name, prompts, timeout_s=state.benchmark.load.request_timeout_s
        )
    else:
        payload = artifacts.read_payload(s3, state.run.artifact.bucket, state.benchmark.payload)
        transport = targets.endpoint_transport(
            state.candidate.name,
            state.benchmark.payload.content_type,
            timeout_s=state.benchmark.load.request_timeout_s,
        )
    try:
        yield transport, payload
    finally:
        transport.close()


def load_worker(
    state: LoadWorkerEvent, *, s3: Any, settings: Settings, time_budget_s: float | None
) -> SweepShareRef:
    """One worker of a fanned-out sweep: drive its share of each level, leave the share in S3."""
    from infercost.measurement import loadtest

    with _driving(state, s3) as (transport, payload):
        share = loadtest.run_sweep_share(
            transport,
            payload,
            state.benchmark.load,
            worker=state.worker,
            workers=len(state.benchmark.workers),
            slo=state.benchmark.slo,
            time_budget_s=time_budget_s,
        )
    key = artifacts.sweep_share_key(
        settings.reports_prefix, state.run.model, state.run.run_id, state.candidate.name, state.worker
    )
    artifacts.put_json(s3, settings.artifacts_bucket, key, share.model_dump(mode="json"))
    return SweepShareRef(worker=state.worker, key=key)


def _merged_sweep(state: CandidateState, s3: Any, settings: Settings) -> Sweep | None:
    """The sweep the workers ran before LoadTest (None when LoadTest runs it itself)."""
    from infercost.measurement import sweep

    if not state.sweep:
        return None
    shares = [
        sweep.SweepShare.model_validate(artifacts.get_json(s3, settings.artifacts_bucket, ref.key))
        for ref in sorted(state.sweep, key=lambda ref: ref.worker)
    ]
    return sweep.merge_sweep_shares(shares, state.benchmark.load, state.benchmark.slo)


def load_test(
    state: CandidateState,
    *,
    s3: Any,
    store: ResultsStore,
    settings: Settings,
    time_budget_s: float | None,
) -> LoadSummary:
    """Drive the endpoint (warm-up, concurrency sweep, serial run) and record the client view.

    When sweep workers ran before (`state.sweep`), their shares are merged and only the warm-up
    and the measured serial run are driven here.
    """
    from infercost.domain.sketch import LatencySketch
    from infercost.measurement import loadtest

    store.put_candidate(run_key(state.run), candidate_record(state, status="RUNNING"))
    swept = _merged_sweep(state, s3, settings)
    with _driving(state, s3) as (transport, payload):
        result = loadtest.run_load_test(
            transport,
            payload,
            state.benchmark.load,
            slo=state.benchmark.slo,
            time_budget_s=time_budget_s,
            minute_aligned=state.timing.align_to_minute,
            # Without minute alignment the metrics are per second (the local stack): keep the
            # sweep out of the measured run's first second.
            fresh_second=not state.timing.align_to_minute,
            swept=swept,
        )
    measured = result.measured
    store.put_candidate(
        run_key(state.run),
        candidate_record(
            state,
            status="RUNNING",
            client_latency_ms=measured.latency_ms.model_dump(mode="json") if measured.latency_ms else None,
            sweep=[_level_summary(level) for level in result.sweep],
        ),
    )
    return LoadSummary(
        started_at=result.started_at,
        ended_at=result.ended_at,
        requests=measured.requests,
        ok=measured.ok,
        errors=measured.errors,
        latency_ms=measured.latency_ms,
        max_rps_at_slo=result.max_rps_at_slo,
        partial=result.partial,
        llm=_llm_stats(state, result),
        first_request_ms=result.first_request_ms,
        release_in_seconds=release_wait_seconds(result.ended_at, time.time(), state.timing),
        confidence=LatencySketch.from_text(measured.sketch).confidence(),
    )


def _llm_stats(state: CandidateState, result: Any) -> LlmStats | None:
    """An LLM workload's token figures (its best level's), for CollectMetrics to record."""
    if state.benchmark.workload is None:
        return None
    from infercost.measurement.llm import llm_stats

    return llm_stats(result, max_error_rate=state.benchmark.load.max_error_rate)


def _level_summary(level: Any) -> dict[str, Any]:
    """A sweep level without its sketch (the sketch is for merging, not for reading)."""
    data: dict[str, Any] = level.model_dump(
        mode="json",
        exclude={"sketch": True, "error_examples": True, "llm": {"ttft_sketch", "itl_sketch", "slos"}},
    )
    return data
