"""ReleaseEndpoint and Teardown: delete what a candidate created, as SageMaker allows, and record how
it ended (docs/deploy.md, section 10)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from infercost.data import endpoints
from infercost.data.store import ResultsStore
from infercost.domain.workflow import (
    CandidatePlan,
    Timing,
    metrics_wait_seconds,
)

if TYPE_CHECKING:  # loadgen is imported where it is used (cold start of the other steps)
    pass
from infercost.steps.common import (
    CandidateState,
    ReleaseSummary,
    StepEvent,
    StepSummary,
    TeardownIncomplete,
    candidate_record,
    run_key,
    utc_now,
)

# The errors the ASL's Pass states set when the endpoint never became InService.
ENDPOINT_ERRORS = ("EndpointFailed", "EndpointDeadlinePassed")


def _record_release(
    state: CandidateState,
    release: endpoints.EndpointRelease,
    store: ResultsStore,
    deleted_at: datetime,
) -> None:
    """Record how long the endpoint lived and what that cost, once it is deleted by us."""
    created = release.before.created_at
    if release.outcome != "deleted" or created is None:
        return
    endpoint_seconds = max((deleted_at - created).total_seconds(), 0.0)
    store.put_candidate(
        run_key(state.run),
        candidate_record(
            state,
            status="RUNNING",
            endpoint_created_at=created,
            endpoint_deleted_at=deleted_at,
            endpoint_seconds=endpoint_seconds,
            benchmark_cost_usd=_benchmark_cost(state.candidate, endpoint_seconds),
        ),
    )


def _settle_poll_s(timing: Timing) -> float:
    """How often to look whether an endpoint has settled: as often as the creation loop polls."""
    return float(max(timing.endpoint_poll_seconds, 1))


def _release(sagemaker: Any, logs: Any | None, name: str, **options: Any) -> endpoints.EndpointRelease:
    """`endpoints.release_endpoint`, with a refused delete as TeardownIncomplete (retried)."""
    from botocore.exceptions import ClientError

    try:
        return endpoints.release_endpoint(sagemaker, logs, name, **options)
    except ClientError as error:
        raise TeardownIncomplete(
            f"could not delete endpoint {name} yet ({endpoints.error_text(error)})"
        ) from None


def release_endpoint(
    state: CandidateState,
    *,
    sagemaker: Any,
    store: ResultsStore,
    time_budget_s: float,
    now: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
) -> ReleaseSummary:
    """Delete the endpoint as soon as the measured run's last minute has closed, before the wait
    for CloudWatch: the metrics outlive it, and its billed time ends here (docs/method.md).

    The endpoint config and the model stay for Teardown. Raises TeardownIncomplete when SageMaker
    refuses the delete (retried by the state machine; after that its Catch hands over to Teardown).
    """
    release = _release(
        sagemaker,
        None,
        state.candidate.name,
        wait_s=min(float(state.timing.teardown_settle_seconds), time_budget_s),
        poll_s=_settle_poll_s(state.timing),
        sleep=sleep,
    )
    if not release.released:
        raise TeardownIncomplete(
            f"endpoint {state.candidate.name} is {release.last_status} and cannot be deleted yet"
        )
    moment = now()
    _record_release(state, release, store, moment)
    ended_at = state.load.ended_at if state.load else moment.timestamp()
    return ReleaseSummary(
        released=True,
        metrics_wait_seconds=metrics_wait_seconds(ended_at, moment.timestamp(), state.timing),
    )


class TeardownEvent(StepEvent):
    state: CandidateState


class TeardownSummary(StepSummary):
    status: Literal["COMPLETED", "FAILED"]
    error: str | None


def teardown(
    state: CandidateState,
    *,
    sagemaker: Any,
    logs: Any,
    store: ResultsStore,
    time_budget_s: float,
    now: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> TeardownSummary:
    """Delete the candidate's endpoint, config and model, then record how the candidate ended.

    An endpoint still Creating cannot be deleted: Teardown waits for it to settle within
    `time_budget_s`; past that it records the candidate FAILED and leaves the endpoint to the
    scheduled janitor, which deletes it once it has settled. A failed candidate's record carries
    the endpoint's FailureReason and the tail of its container log. Raises TeardownIncomplete
    (retried by the state machine) while the config or model could not be deleted.
    """
    failing = state.error is not None
    wait_s = min(float(state.timing.teardown_settle_seconds), time_budget_s)
    release = _release(
        sagemaker,
        logs,
        state.candidate.name,
        wait_s=wait_s,
        poll_s=_settle_poll_s(state.timing),
        with_logs=failing,
        sleep=sleep,
        clock=clock,
    )
    before = release.before
    if not release.released:
        unsettled = (
            f"endpoint {state.candidate.name} was still {release.last_status} after "
            f"{wait_s:.0f} s and SageMaker cannot delete it before it settles; the "
            "scheduled janitor deletes it then"
        )
        if failing:
            unsettled = f"{_candidate_error(state, before)}; {unsettled}"
        store.put_candidate(run_key(state.run), candidate_record(state, status="FAILED", error=unsettled))
        return TeardownSummary(status="FAILED", error=unsettled)
    _record_release(state, release, store, now())
    outcome = endpoints.delete_config_and_model(sagemaker, state.candidate.name)
    if not outcome.complete:
        failures = "; ".join(f"{kind}: {text}" for kind, text in outcome.failures.items())
        raise TeardownIncomplete(f"could not delete {state.candidate.name} yet ({failures})")
    error = _candidate_error(state, before) if failing else None
    if not failing and state.metrics is None:
        # Only CollectMetrics records a result; reaching Teardown without an error means it ran.
        error = "no measurement was recorded for this candidate"
    status: Literal["COMPLETED", "FAILED"] = "FAILED" if error else "COMPLETED"
    store.put_candidate(
        run_key(state.run),
        candidate_record(
            state,
            status=status,
            error=error,
            failure_reason=before.failure_reason,
            log_tail=before.log_tail or None,
        ),
    )
    return TeardownSummary(status=status, error=error)


def _benchmark_cost(plan: CandidatePlan, endpoint_seconds: float | None) -> float | None:
    from infercost.domain import costing

    if endpoint_seconds is None or plan.price_per_hour_usd is None:
        return None
    return costing.benchmark_cost_usd(
        plan.price_per_hour_usd, endpoint_seconds, plan.candidate.instance_count
    )


def _candidate_error(state: CandidateState, before: endpoints.EndpointState) -> str:
    """One line for the record: SageMaker's FailureReason when the endpoint failed, else the cause."""
    assert state.error is not None
    if before.failure_reason and state.error.Error in ENDPOINT_ERRORS:
        return f"endpoint {state.candidate.name} failed: {before.failure_reason}"
    return state.error.reason()
