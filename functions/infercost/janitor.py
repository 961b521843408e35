"""Nothing left running: the run sweep, the failure path and the scheduled janitor.

An orphaned ml.p3.2xlarge costs about $100 a day, so three layers delete what infercost created:
Teardown per candidate, `sweep_run` after the Map (and `record_failure` when the run fails), and
the scheduled `janitor_sweep` for anything a crashed execution left behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from infercost import endpoints
from infercost.endpoints import ManagedResource
from infercost.errors import InfercostError
from infercost.steps import run_key, run_ref_for, running_record
from infercost.store import CandidateRecord, ResultsStore
from infercost.workflow import ObjectCreatedEvent, RunRef, TaskError, model_name_from_key

# A resource whose run is not (yet) visible in the run index is left alone this long: the index
# is eventually consistent and a run may be a few seconds old.
UNKNOWN_RUN_GRACE = timedelta(minutes=15)
_DELETE_ORDER = {"endpoint": 0, "endpoint-config": 1, "model": 2}


class SweepIncomplete(InfercostError):
    """Something of the run could not be deleted yet; the state machine retries the sweep."""


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


def delete_in_order(
    sagemaker: Any, resources: Iterable[ManagedResource]
) -> tuple[list[ManagedResource], dict[str, str]]:
    """Delete endpoints first, then their configs, then models; (deleted, failures by name)."""
    deleted: list[ManagedResource] = []
    failures: dict[str, str] = {}
    for resource in sorted(resources, key=lambda r: (_DELETE_ORDER[r.kind], r.name)):
        error = endpoints.delete_resource(sagemaker, resource)
        if error is None:
            deleted.append(resource)
        else:
            failures[f"{resource.kind} {resource.name}"] = error
    return deleted, failures


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
    unfinished: int


def sweep_run(run: RunRef, prefix: str, *, sagemaker: Any, store: ResultsStore) -> SweepSummary:
    """Delete whatever of this run is still tagged, and fail candidates that never finished."""
    resources = endpoints.find_managed(sagemaker, prefix, run_id=run.run_id)
    deleted, failures = delete_in_order(sagemaker, resources)
    if failures:
        listed = "; ".join(f"{name}: {error}" for name, error in failures.items())
        raise SweepIncomplete(f"could not delete yet: {listed}")
    unfinished = _fail_unfinished(
        store,
        run,
        "did not finish: its teardown did not complete, so the run sweep deleted its resources",
    )
    return SweepSummary(deleted=[f"{r.kind} {r.name}" for r in deleted], unfinished=unfinished)


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
    deleted, failures = delete_in_order(
        sagemaker, endpoints.find_managed(sagemaker, prefix, run_id=run.run_id)
    )
    recorded = reason
    if failures:
        recorded += f" (could not delete {', '.join(sorted(failures))}; the scheduled janitor retries)"
    _fail_unfinished(store, run, f"did not finish: the run failed ({reason})")
    store.finish_run(key, status="FAILED", finished_at=now(), error=recorded)
    return FailureSummary(run=run, reason=recorded, deleted=[f"{r.kind} {r.name}" for r in deleted])


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
    failures: dict[str, str]


def janitor_sweep(
    prefix: str,
    *,
    sagemaker: Any,
    store: ResultsStore,
    max_age: timedelta,
    now: Callable[[], datetime] = _now,
) -> JanitorSummary:
    """Delete tagged resources whose run is no longer RUNNING or that outlived `max_age`."""
    moment = now()
    resources = endpoints.find_managed(sagemaker, prefix)
    statuses: dict[str, str | None] = {}
    for run_id in sorted({r.run_id for r in resources if r.run_id}):
        view = store.get_run(run_id)
        statuses[run_id] = view.run.status if view else None
    doomed = select_for_deletion(resources, statuses, now=moment, max_age=max_age)
    over_age = [
        r
        for r in resources
        if r.kind == "endpoint" and (age := _age(r, moment)) is not None and age > max_age
    ]
    deleted, failures = delete_in_order(sagemaker, [resource for resource, _ in doomed])
    return JanitorSummary(
        deleted=[f"{r.kind} {r.name}" for r in deleted],
        endpoints_deleted=sum(1 for r in deleted if r.kind == "endpoint"),
        endpoints_over_max_age=len(over_age),
        failures=failures,
    )
