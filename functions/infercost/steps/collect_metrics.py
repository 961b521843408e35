"""CollectMetrics: read the endpoint's CloudWatch latency, polling until it settles, and record it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from infercost.data.store import ResultsStore
from infercost.domain.errors import InputError
from infercost.domain.results import CandidateResult

if TYPE_CHECKING:  # loadgen is imported where it is used (cold start of the other steps)
    pass
from infercost.steps.common import CandidateState, MetricsSummary, candidate_record, run_key


def collect_metrics(
    state: CandidateState,
    *,
    cloudwatch: Any,
    store: ResultsStore,
    time_budget_s: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> MetricsSummary:
    """Read the endpoint's CloudWatch latency (polling until it settles) and record the result.

    Polling ends at the spec's metrics deadline or when the Lambda's `time_budget_s` runs out,
    whichever comes first; what was read by then is recorded as partial.
    """
    from infercost.data.metrics import collect_endpoint_metrics, read_latency_confidence

    load = state.load
    if load is None:
        raise InputError("CollectMetrics needs the LoadTest summary", field="load")
    metrics = collect_endpoint_metrics(
        cloudwatch,
        state.candidate.name,
        started_at=load.started_at,
        ended_at=load.ended_at,
        expected_count=load.ok,
        poll_interval_s=state.timing.metrics_poll_seconds,
        deadline_s=min(float(state.timing.metrics_deadline_seconds), time_budget_s),
        sleep=sleep,
        clock=clock,
    )
    server = metrics.model_latency_ms
    if server is not None:
        latency, source = server, "cloudwatch"
        # The server's own interval, read at the bound ranks of the samples CloudWatch holds.
        confidence = read_latency_confidence(
            cloudwatch,
            state.candidate.name,
            metrics.window,
            samples=metrics.sample_count,
            avg_ms=server.avg,
            std_ms=load.confidence.std_ms if load.confidence is not None else None,
        )
    elif load.latency_ms is not None:
        latency, source, confidence = load.latency_ms, "client", load.confidence
    else:
        raise InputError("no latency was measured, neither by CloudWatch nor by the client")
    result = CandidateResult(
        candidate=state.candidate.candidate,
        price_per_hour_usd=state.candidate.price_per_hour_usd,
        price_source=state.candidate.price_source,
        image_uri=state.candidate.image_uri,
        price_basis=state.candidate.price_basis,
        latency_ms=latency,
        max_rps_at_slo=load.max_rps_at_slo,
        # Every request counts as an invocation, failed ones included (ResultsFile.error_rate).
        invocations=load.requests,
        errors=load.errors,
        source=source,
        llm=load.llm,
        first_request_ms=load.first_request_ms,
        confidence=confidence,
    )
    store.put_candidate(
        run_key(state.run),
        candidate_record(
            state,
            status="RUNNING",
            result=result.model_dump(mode="json"),
            server_latency_ms=server.model_dump(mode="json") if server else None,
        ),
    )
    return MetricsSummary(
        source=source, partial=bool(metrics.partial), sample_count=int(metrics.sample_count or 0)
    )
