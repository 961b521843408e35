"""Nothing left running: the run sweep, the failure path and the scheduled janitor.

An orphaned ml.p3.2xlarge costs about $100 a day, so three layers delete what infercost created:
Teardown per candidate, `sweep_run` after the Map (and `record_failure` when the run fails), and
the scheduled `janitor_sweep` for anything a crashed execution left behind.

SageMaker refuses to delete an endpoint that is still Creating (or updating) and one already
Deleting is gone for our purposes. So every layer deletes what can be deleted now, never fails a
run for an endpoint that is going or still settling, and leaves a settling endpoint (with its
config and model) to the scheduled janitor, which retries until it is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from infercost.data import endpoints
from infercost.data.endpoints import GOING_STATUS, SETTLING_STATUSES, ManagedResource
from infercost.data.store import ResultsStore
from infercost.domain.records import CandidateRecord
from infercost.domain.workflow import ObjectCreatedEvent, RunRef, TaskError, model_name_from_key
from infercost.steps.common import run_key, run_ref_for, running_record

# A resource whose run is not (yet) visible in the run index is left alone this long: the index
# is eventually consistent and a run may be a few seconds old.
UNKNOWN_RUN_GRACE = timedelta(minutes=15)
_DELETE_ORDER = {"endpoint": 0, "endpoint-config": 1, "model": 2}


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SweepEvent(_Event):
    action: Literal["sweep"]
    resource_prefix: str | None = None
    run: RunRef


class FailEvent(_Event):
    action: Literal["fail"]
    resource_prefix: str | None = None
    execution_arn: str
    execution_started_at: str
    state: dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


class Cleanup(BaseModel):
    """What one clean-up pass did: deleted, left for later (an endpoint still settling, with its
    config and model), and what SageMaker refused, by 'kind name'."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    deleted: list[ManagedResource]
    waiting: list[ManagedResource]
    failures: dict[str, str]

    def left_over(self) -> list[str]:
        """'kind name (why)' of everything not deleted, for a record or a log line."""
        waiting = [f"{r.kind} {r.name} (endpoint still {r.status or 'settling'})" for r in self.waiting]
        return waiting + [f"{name} ({error})" for name, error in self.failures.items()]


def clean_up(sagemaker: Any, resources: Iterable[ManagedResource]) -> Cleanup:
    """Delete endpoints first, then their configs, then models, skipping endpoints already Deleting
    and leaving everything of an endpoint that cannot be deleted yet (Creating, Updating, ...)."""
    resources = list(resources)
    settling = {r.name: r.status for r in resources if r.kind == "endpoint" and r.status in SETTLING_STATUSES}
    deleted: list[ManagedResource] = []
    waiting: list[ManagedResource] = []
    failures: dict[str, str] = {}
    for resource in sorted(resources, key=lambda r: (_DELETE_ORDER[r.kind], r.name)):
        if resource.name in settling:
            waiting.append(resource if resource.kind == "endpoint" else _with_status(resource, settling))
            continue
        if resource.kind == "endpoint" and resource.status == GOING_STATUS:
            continue
        error = endpoints.delete_resource(sagemaker, resource)
        if error is None:
            deleted.append(resource)
        else:
            failures[f"{resource.kind} {resource.name}"] = error
    return Cleanup(deleted=deleted, waiting=waiting, failures=failures)


def _with_status(resource: ManagedResource, settling: Mapping[str, str | None]) -> ManagedResource:
    # A config or model waits on its endpoint; it carries the endpoint's status for the message.
    return ManagedResource(
        kind=resource.kind,
        name=resource.name,
        arn=resource.arn,
        run_id=resource.run_id,
        created_at=resource.created_at,
        status=settling.get(resource.name),
    )


def _fail_unfinished(store: ResultsStore, run: RunRef, error: str) -> int:
    view = store.get_run_by_key(run_key(run))
    if view is None:
        return 0
    unfinished = [c for c in view.candidates if not c.is_terminal]
    for record in unfinished:
        store.put_candidate(
            run_key(run),
            CandidateRecord(
                run_id=run.run_id,
                index=record.index,
                candidate=record.candidate,
                status="FAILED",
                error=error,
            ),
        )
    return len(unfinished)


class SweepSummary(BaseModel):
    deleted: list[str]
    left_to_janitor: list[str]
    unfinished: int


def sweep_run(run: RunRef, prefix: str, *, sagemaker: Any, store: ResultsStore) -> SweepSummary:
    """Delete whatever of this run is still tagged, and fail candidates that never finished.

    Never fails the run: what cannot be deleted yet is left to the scheduled janitor, which
    deletes it as soon as the run is over and the endpoint has settled.
    """
    cleanup = clean_up(sagemaker, endpoints.find_managed(sagemaker, prefix, run_id=run.run_id))
    unfinished = _fail_unfinished(
        store,
        run,
        "did not finish: its teardown did not complete, so the run sweep deleted its resources",
    )
    return SweepSummary(
        deleted=[f"{r.kind} {r.name}" for r in cleanup.deleted],
        left_to_janitor=cleanup.left_over(),
        unfinished=unfinished,
    )


class FailureSummary(BaseModel):
    run: RunRef
    reason: str
    deleted: list[str]


def failure_reason(state: Mapping[str, Any]) -> str:
    """Why the run failed, for the record and the notification: the step and its error."""
    evaluation = state.get("evaluation")
    error = state.get("error")
    step = str(state.get("failed_state") or "the workflow")
    if isinstance(error, Mapping) and error.get("Error"):
        return f"{step} failed: {TaskError.model_validate(error).reason()}"
    if isinstance(evaluation, Mapping) and evaluation.get("accepted") is False:
        return str(evaluation.get("error") or "the evaluation spec was refused")
    return f"{step} failed"


def record_failure(
    event: FailEvent,
    prefix: str,
    *,
    sagemaker: Any,
    store: ResultsStore,
    region: str,
    now: Callable[[], datetime] = _now,
) -> FailureSummary:
    """The outer failure path: sweep the run's resources, fail its candidates, record the run FAILED.

    Works from whatever the execution got to: if Prepare never recorded the run, the run item is
    created here from the S3 event, so the failure is still on record and notified.
    """
    state = event.state
    reason = failure_reason(state)
    evaluation = state.get("evaluation")
    if isinstance(evaluation, Mapping) and isinstance(evaluation.get("run"), Mapping):
        run = RunRef.model_validate(evaluation["run"])
    else:
        trigger = ObjectCreatedEvent.model_validate(state)
        run = run_ref_for(
            trigger,
            event.execution_arn,
            event.execution_started_at,
            model_name_from_key(trigger.key),
        )
    key = run_key(run)
    if store.get_run_by_key(key) is None:
        store.create_run(running_record(run, region))
    cleanup = clean_up(sagemaker, endpoints.find_managed(sagemaker, prefix, run_id=run.run_id))
    recorded = reason
    if cleanup.left_over():
        recorded += f" (left to the scheduled janitor: {', '.join(sorted(cleanup.left_over()))})"
    _fail_unfinished(store, run, f"did not finish: the run failed ({reason})")
    store.finish_run(key, status="FAILED", finished_at=now(), error=recorded)
    return FailureSummary(run=run, reason=recorded, deleted=[f"{r.kind} {r.name}" for r in cleanup.deleted])


# --- the scheduled janitor --------------------------------------------------------------------


def _age(resource: ManagedResource, now: datetime) -> timedelta | None:
    if resource.created_at is None:
        return None
    created = resource.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return now - created


def select_for_deletion(
    resources: Iterable[ManagedResource],
    run_status: Mapping[str, str | None],
    *,
    now: datetime,
    max_age: timedelta,
    grace: timedelta = UNKNOWN_RUN_GRACE,
) -> list[tuple[ManagedResource, str]]:
    """The resources to delete, each with the reason: its run is over, unknown, or it is too old."""
    chosen: list[tuple[ManagedResource, str]] = []
    for resource in resources:
        age = _age(resource, now)
        status = run_status.get(resource.run_id) if resource.run_id else None
        if age is not None and age > max_age:
            chosen.append((resource, f"older than {max_age}"))
        elif status is None:
            if age is None or age > grace:
                chosen.append((resource, f"its run {resource.run_id or '(untagged)'} is unknown"))
        elif status != "RUNNING":
            chosen.append((resource, f"its run {resource.run_id} is {status}"))
    return chosen


class JanitorSummary(BaseModel):
    deleted: list[str]
    endpoints_deleted: int
    endpoints_over_max_age: int
    waiting: list[str]
    failures: dict[str, str]
    runs_closed: list[str]


def close_ended_runs(store: ResultsStore, stepfunctions: Any, *, now: datetime) -> list[str]:
    """Close every RUNNING run whose execution has ended without recording (aborted, timed out,
    failed past its own failure path): the run takes the execution's status, and its unfinished
    candidates fail. Returns '<run id> <status>' of each run closed."""
    closed = []
    for run in store.open_runs():
        if not run.execution_arn:
            continue
        status, detail = _execution_status(stepfunctions, run.execution_arn)
        if status == "RUNNING":
            continue
        reason = f"its execution ended {status} without recording the outcome{detail}"
        ref = RunRef(
            model=run.model,
            started_at=run.started_at,
            run_id=run.run_id,
            execution_arn=run.execution_arn,
            artifact=run.artifact.model_dump() if run.artifact else {"bucket": "-", "key": "-"},
        )
        _fail_unfinished(store, ref, f"did not finish: {reason}")
        finished: Literal["SUCCEEDED", "FAILED"] = (
            "SUCCEEDED" if status == "SUCCEEDED" and run.recommendation else "FAILED"
        )
        store.finish_run(
            run.key, status=finished, finished_at=now, error=None if finished == "SUCCEEDED" else reason
        )
        closed.append(f"{run.run_id} {status}")
    return closed


def _execution_status(stepfunctions: Any, execution_arn: str) -> tuple[str, str]:
    """The execution's status and, for a failure, ': <error>: <cause>' (NOT_FOUND when it is gone)."""
    try:
        described = stepfunctions.describe_execution(executionArn=execution_arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
            return "NOT_FOUND", ""
        raise
    status = str(described.get("status", "UNKNOWN"))
    parts = [str(described[k]) for k in ("error", "cause") if described.get(k)]
    return status, (": " + ": ".join(parts)[:300]) if parts else ""


def janitor_sweep(
    prefix: str,
    *,
    sagemaker: Any,
    stepfunctions: Any,
    store: ResultsStore,
    max_age: timedelta,
    now: Callable[[], datetime] = _now,
) -> JanitorSummary:
    """Close runs whose execution ended unrecorded, then delete tagged resources whose run is no
    longer RUNNING or that outlived `max_age` (endpoints still settling wait for the next pass)."""
    moment = now()
    closed = close_ended_runs(store, stepfunctions, now=moment)
    resources = endpoints.find_managed(sagemaker, prefix)
    statuses: dict[str, str | None] = {}
    for run_id in sorted({r.run_id for r in resources if r.run_id}):
        view = store.get_run(run_id)
        statuses[run_id] = view.run.status if view else None
    for entry in closed:
        run_id, _, _ = entry.partition(" ")
        statuses[run_id] = "CLOSED"
    doomed = select_for_deletion(resources, statuses, now=moment, max_age=max_age)
    over_age = [
        r
        for r in resources
        if r.kind == "endpoint" and (age := _age(r, moment)) is not None and age > max_age
    ]
    cleanup = clean_up(sagemaker, [resource for resource, _ in doomed])
    return JanitorSummary(
        deleted=[f"{r.kind} {r.name}" for r in cleanup.deleted],
        endpoints_deleted=sum(1 for r in cleanup.deleted if r.kind == "endpoint"),
        endpoints_over_max_age=len(over_age),
        waiting=[f"{r.kind} {r.name}" for r in cleanup.waiting],
        failures=cleanup.failures,
        runs_closed=closed,
    )
