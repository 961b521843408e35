"""What the states of a candidate and of a run share: their event shapes, the run's key, time budgets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from infercost.data.store import ResultsStore
from infercost.domain.errors import InfercostError, InputError
from infercost.domain.models import EvaluationSpec, LoadPlan
from infercost.domain.records import Artifact as StoreArtifact
from infercost.domain.records import CandidateRecord, RunKey, RunRecord, RunView, iso_utc
from infercost.domain.results import (
    RESULTS_SCHEMA,
    CandidateFailure,
    CandidateResult,
    LatencyConfidence,
    LatencyStats,
    LlmStats,
    ResultsFile,
)
from infercost.domain.traffic import TrafficProfile
from infercost.domain.workflow import (
    Artifact,
    Benchmark,
    CandidatePlan,
    ObjectCreatedEvent,
    RunRef,
    TaskError,
    Timing,
    run_identity,
)

if TYPE_CHECKING:  # loadgen is imported where it is used (cold start of the other steps)
    pass


# Every step stops this long before its Lambda would be cut off, to record what it got.
RECORD_MARGIN_S = 30.0


def load_margin_s(plan: LoadPlan) -> float:
    """How long before the Lambda's end a load step stops sending: one request timeout (a request
    in flight at the deadline must get its answer or time out) plus the time to record."""
    return plan.request_timeout_s + RECORD_MARGIN_S


def remaining_s(context: Any) -> float:
    """Seconds this Lambda invocation has left (Lambda's context object)."""
    return float(context.get_remaining_time_in_millis()) / 1000


def time_budget_s(context: Any, margin_s: float) -> float:
    """Seconds a step may work: what is left of the invocation minus `margin_s` (at least one)."""
    return max(remaining_s(context) - margin_s, 1.0)


class TeardownIncomplete(InfercostError):
    """A resource could not be deleted yet; the state machine retries Teardown with backoff."""


class NothingMeasured(InfercostError):
    """No candidate produced a measurement, so there is nothing to recommend."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class StepEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class StepSummary(BaseModel):
    """What a state returns; each is built by one handler only, so its validator is built on first use."""

    model_config = ConfigDict(defer_build=True)


def run_ref_for(event: ObjectCreatedEvent, execution_arn: str, started_at: str, model: str) -> RunRef:
    """The run an execution evaluates: named by the execution, keyed by its start time."""
    return RunRef(
        model=model,
        started_at=iso_utc(datetime.fromisoformat(started_at.replace("Z", "+00:00"))),
        run_id=run_identity(execution_arn),
        execution_arn=execution_arn,
        artifact=Artifact(
            bucket=event.bucket,
            key=event.key,
            version_id=event.version_id,
            etag=event.detail.object.etag,
        ),
    )


def running_record(run: RunRef, region: str) -> RunRecord:
    """The run item a new evaluation starts with (Prepare, or the sweep of a run Prepare never saw)."""
    return RunRecord(
        model=run.model,
        started_at=run.started_at,
        run_id=run.run_id,
        status="RUNNING",
        artifact=StoreArtifact(**run.artifact.model_dump()),
        execution_arn=run.execution_arn,
        region=region,
    )


def run_key(run: RunRef) -> RunKey:
    """The run item's key in the results table."""
    return RunKey(model=run.model, started_at=run.started_at, run_id=run.run_id)


class EndpointPoll(StepEvent):
    status: str


class LoadSummary(StepSummary):
    """What LoadTest leaves in the state for CollectMetrics (a few hundred bytes)."""

    started_at: float
    ended_at: float
    requests: int
    ok: int
    errors: int
    latency_ms: LatencyStats | None
    max_rps_at_slo: float | None
    partial: bool
    llm: LlmStats | None = Field(default=None, description="an LLM workload's token figures")
    first_request_ms: float | None = None
    release_in_seconds: int = Field(
        ge=0, description="the Wait before ReleaseEndpoint: until the last measured minute closed"
    )
    # The client's intervals, from the measured run's sketch (docs/method.md §8).
    confidence: LatencyConfidence | None = None


class ReleaseSummary(StepSummary):
    """What ReleaseEndpoint leaves in the state: whether the endpoint is gone, and the wait left."""

    released: bool
    metrics_wait_seconds: int = Field(ge=0)


class MetricsSummary(StepSummary):
    source: Literal["cloudwatch", "client"]
    partial: bool
    sample_count: int


class SweepShareRef(StepSummary):
    """Where a sweep worker left its share (S3, beside the report: too big for the state)."""

    worker: int
    key: str


class CandidateState(StepEvent):
    """The Map iteration's state: the run, the candidate's plan, and what its steps produced."""

    run: RunRef
    timing: Timing
    benchmark: Benchmark
    candidate: CandidatePlan
    endpoint: EndpointPoll | None = None
    sweep: list[SweepShareRef] | None = None
    load: LoadSummary | None = None
    released: ReleaseSummary | None = None
    metrics: MetricsSummary | None = None
    error: TaskError | None = None


def candidate_record(state: CandidateState, **fields: Any) -> CandidateRecord:
    return CandidateRecord(
        run_id=state.run.run_id,
        index=state.candidate.index,
        candidate=state.candidate.candidate,
        endpoint_name=state.candidate.name,
        **fields,
    )


class RunEvent(StepEvent):
    run: RunRef


def run_view(store: ResultsStore, run: RunRef) -> RunView:
    view = store.get_run_by_key(run_key(run))
    if view is None:
        raise InputError(f"run {run.run_id} of {run.model} is not in the results table", field="run")
    return view


def stored_spec(view: RunView) -> EvaluationSpec:
    """The evaluation spec a stored run was measured with (without the local stack's note)."""
    return EvaluationSpec.model_validate(
        {k: v for k, v in (view.run.spec or {}).items() if k != "simulated"}, context={"stored": True}
    )


def results_of(view: RunView) -> ResultsFile:
    """A stored run as a results file (`infercost.results/v1`): what it measured, and what failed."""
    spec = stored_spec(view)
    results: list[CandidateResult] = []
    failures: list[CandidateFailure] = []
    for record in view.candidates:
        measured = record.parsed_result() if record.status == "COMPLETED" else None
        if measured is not None:
            results.append(measured)
        else:
            failures.append(
                CandidateFailure(
                    candidate=record.candidate,
                    status="SKIPPED" if record.status == "SKIPPED" else "FAILED",
                    error=record.error or "did not finish",
                )
            )
    if not results:
        reasons = "; ".join(f"{f.candidate.label}: {f.error}" for f in failures)
        raise NothingMeasured(f"no candidate was measured ({reasons})")
    return ResultsFile.model_validate(
        {
            "schema": RESULTS_SCHEMA,
            "model": view.run.model,
            "region": view.run.region,
            "slo": spec.slo,
            "results": results,
            "failures": failures,
            "traffic": run_traffic(view, spec),
            "objective": spec.objective,
            "serving": spec.serving,
        }
    )


def run_traffic(view: RunView, spec: EvaluationSpec) -> TrafficProfile | None:
    """The run's traffic profile: the spec's own, or the one Prepare read from an endpoint's history."""
    if isinstance(spec.traffic, TrafficProfile):
        return spec.traffic
    if view.run.traffic is not None:
        return TrafficProfile.model_validate(view.run.traffic)
    return None
