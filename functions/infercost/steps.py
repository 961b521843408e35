"""The work of each state of the evaluation workflow, given its AWS clients.

One function per state (docs/architecture.md, "One name per thing"); the handlers parse the event,
make the clients and call these. Each function takes its clients as arguments, so tests run them
against moto, and each is safe to retry: store writes are conditional and deletes idempotent.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from infercost.data import artifacts, endpoints
from infercost.data.settings import Settings
from infercost.data.store import ResultsStore
from infercost.domain.errors import InfercostError, InputError
from infercost.domain.models import (
    RESULTS_SCHEMA,
    Candidate,
    CandidateFailure,
    CandidateResult,
    EvaluationSpec,
    LatencyStats,
    LoadPlan,
    ResultsFile,
)
from infercost.domain.prices import PriceLookup, PriceSource
from infercost.domain.records import Artifact as StoreArtifact
from infercost.domain.records import CandidateRecord, RunKey, RunRecord, RunView, iso_utc
from infercost.domain.workflow import (
    Artifact,
    Benchmark,
    CandidatePlan,
    Evaluation,
    ObjectCreatedEvent,
    RunRef,
    TaskError,
    Timing,
    allocate_quota,
    container_definition,
    load_workers,
    merge_spec,
    merge_timing,
    metrics_wait_seconds,
    model_name_from_key,
    parse_spec,
    plan_candidates,
    release_wait_seconds,
    run_identity,
    spec_key_for,
)

if TYPE_CHECKING:  # loadgen is imported where it is used (cold start of the other steps)
    from infercost.loadgen import Sweep, Transport

MODEL_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$"
# Step Functions state is limited to 256 KB; the inline request body is copied into it.
MAX_INLINE_PAYLOAD_BYTES = 32 * 1024
# Every step stops this long before its Lambda would be cut off, to record what it got.
RECORD_MARGIN_S = 30.0
# What a stored spec keeps of the container's environment: the names; values may be secrets.
REDACTED = "(not stored)"


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


class PriceBookLike(PriceLookup, Protocol):
    def check_candidate(self, candidate: Candidate) -> None: ...


def _now() -> datetime:
    return datetime.now(UTC)


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class _Summary(BaseModel):
    """What a state returns; each is built by one handler only, so its validator is built on first use."""

    model_config = ConfigDict(defer_build=True)


# --- Prepare --------------------------------------------------------------------------------


class PrepareEvent(_Event):
    event: dict[str, Any]
    execution_arn: str
    execution_started_at: str


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


def _model_name(spec_data: Any, artifact_key: str) -> str:
    """The spec's model name when it is a valid one, else one derived from the artifact key."""
    if isinstance(spec_data, Mapping):
        model = spec_data.get("model")
        name = model.get("name") if isinstance(model, Mapping) else None
        if isinstance(name, str) and len(name) <= 40 and re.match(MODEL_NAME_PATTERN, name):
            return name
    return model_name_from_key(artifact_key)


def prepare(
    request: PrepareEvent,
    *,
    settings: Settings,
    s3: Any,
    sagemaker: Any,
    servicequotas: Any,
    store: ResultsStore,
    prices: Callable[[], PriceBookLike],
) -> Evaluation:
    """Read and validate the spec, price and quota-check the candidates, record the run.

    A spec that cannot be used gives `accepted=False` with the reason (the run is recorded; the
    failure path marks it FAILED and notifies). Nothing is created in SageMaker here.
    """
    event = ObjectCreatedEvent.model_validate(request.event)
    spec_data: Any = None
    spec_error: InputError | None = None
    try:
        spec_data = artifacts.read_spec(s3, event.bucket, spec_key_for(event.key))
    except InputError as error:
        spec_error = error
    run = run_ref_for(
        event, request.execution_arn, request.execution_started_at, _model_name(spec_data, event.key)
    )
    store.create_run(running_record(run, settings.region))
    timing = Timing()
    try:
        timing = merge_timing(settings.defaults.get("workflow"), event.workflow)
        if spec_error is not None:
            raise spec_error
        return _accept(run, spec_data, timing, settings, sagemaker, servicequotas, store, prices)
    except InputError as error:
        return Evaluation(accepted=False, error=error.one_line(), run=run, timing=timing)


def _accept(
    run: RunRef,
    spec_data: Any,
    timing: Timing,
    settings: Settings,
    sagemaker: Any,
    servicequotas: Any,
    store: ResultsStore,
    prices: Callable[[], PriceBookLike],
) -> Evaluation:
    from infercost.domain.planning import check_budget, plan_run

    source = f"s3://{run.artifact.bucket}/{spec_key_for(run.artifact.key)}"
    merged = merge_spec(settings.defaults, spec_data) if isinstance(spec_data, Mapping) else spec_data
    spec = parse_spec(merged, source=source)
    body = spec.payload.body
    if body is not None and len(body.encode("utf-8")) > MAX_INLINE_PAYLOAD_BYTES:
        raise InputError(
            f"an inline body travels in the workflow's state, so it is limited to "
            f"{MAX_INLINE_PAYLOAD_BYTES // 1024} KB",
            field="payload.body",
            hint="upload the sample request beside the artifact and give its payload.s3_key",
        )
    workers = load_workers(spec.load)
    if workers > settings.max_sweep_workers:
        raise InputError(
            f"the sweep would need {workers} LoadWorker Lambdas per candidate; this stack reserves "
            f"concurrency for {settings.max_sweep_workers} (infercost:max_sweep_workers)",
            field="load.workers" if spec.load.workers is not None else "load.concurrency",
            hint="lower the highest concurrency level or load.workers, or deploy with a higher maximum",
        )
    role = spec.model.execution_role_arn
    if role is not None and role != settings.execution_role_arn:
        raise InputError(
            f"this stack passes only its own SageMaker execution role {settings.execution_role_arn}",
            field="model.execution_role_arn",
            hint="remove the field, or deploy the stack with your role as its execution role",
        )
    book = prices()
    hourly: dict[int, float | None] = {}
    sources: dict[int, PriceSource] = {}
    for index, candidate in enumerate(spec.candidates):
        try:
            book.check_candidate(candidate)
            hourly[index] = None
            if not candidate.is_serverless:
                price = book.candidate_price(candidate)
                hourly[index], sources[index] = price.usd_per_hour, price.source
        except InputError as error:
            field = f"candidates[{index}]" + (f".{error.field}" if error.field else "")
            raise InputError(error.message, field=field, hint=error.hint) from None
    headroom = _quota_headroom(servicequotas, sagemaker, spec.candidates)
    skipped = allocate_quota(spec.candidates, headroom)
    plans = plan_candidates(
        spec, run, prefix=settings.resource_prefix, prices=hourly, price_sources=sources, skipped=skipped
    )
    runnable = [plan.candidate for plan in plans if plan.status != "SKIPPED"]
    if not runnable:
        reasons = "; ".join(f"{p.label}: {p.skip_reason}" for p in plans)
        raise InputError(f"no candidate can run: {reasons}", field="candidates")
    estimate = plan_run(
        spec.model_copy(update={"candidates": runnable}),
        book,
        max_concurrency=timing.max_concurrency,
        metrics_delay_s=timing.metrics_delay_seconds,
        metrics_flush_s=timing.metrics_flush_seconds,
    )
    check_budget(estimate)
    stored_spec = redacted_spec(spec)
    if settings.simulated_note:
        stored_spec["simulated"] = settings.simulated_note
    store.update_run(run_key(run), spec=stored_spec, slo=spec.slo)
    for plan in plans:
        store.put_candidate(
            run_key(run),
            CandidateRecord(
                run_id=run.run_id,
                index=plan.index,
                candidate=plan.candidate,
                status="SKIPPED" if plan.status == "SKIPPED" else "PENDING",
                endpoint_name=plan.name,
                error=plan.skip_reason,
            ),
        )
    return Evaluation(
        accepted=True,
        run=run,
        timing=timing,
        benchmark=Benchmark(
            container=container_definition(spec, run.artifact),
            payload=spec.payload,
            load=spec.load,
            slo=spec.slo,
            workers=list(range(workers)),
        ),
        candidates=plans,
        estimated_cost_usd=estimate.cost_usd,
    )


def redacted_spec(spec: EvaluationSpec) -> dict[str, Any]:
    """The spec as stored with the run: the container's environment keeps its names only."""
    data: dict[str, Any] = spec.model_dump(mode="json")
    data["model"]["environment"] = dict.fromkeys(spec.model.environment, REDACTED)
    return data


def _quota_headroom(servicequotas: Any, sagemaker: Any, candidates: list[Candidate]) -> dict[str, int | None]:
    """Instances left per type; unknown (None) when Service Quotas cannot be asked."""
    from botocore.exceptions import BotoCoreError, ClientError

    types = [c.instance_type for c in candidates if c.instance_type]
    try:
        return endpoints.quota_headroom(servicequotas, sagemaker, types)
    except (ClientError, BotoCoreError):
        # A region without Service Quotas for SageMaker must not block a run: SageMaker itself
        # refuses an endpoint beyond the quota, and that candidate then fails with the reason.
        # A missing grant is not this case: it raises PermissionDenied (infercost.data.clients).
        return dict.fromkeys(types)


# --- the candidate iteration ------------------------------------------------------------------


class EndpointPoll(_Event):
    status: str


class LoadSummary(_Summary):
    """What LoadTest leaves in the state for CollectMetrics (a few hundred bytes)."""

    started_at: float
    ended_at: float
    requests: int
    ok: int
    errors: int
    latency_ms: LatencyStats | None
    max_rps_at_slo: float | None
    partial: bool
    release_in_seconds: int = Field(
        ge=0, description="the Wait before ReleaseEndpoint: until the last measured minute closed"
    )


class ReleaseSummary(_Summary):
    """What ReleaseEndpoint leaves in the state: whether the endpoint is gone, and the wait left."""

    released: bool
    metrics_wait_seconds: int = Field(ge=0)


class MetricsSummary(_Summary):
    source: Literal["cloudwatch", "client"]
    partial: bool
    sample_count: int


class SweepShareRef(_Summary):
    """Where a sweep worker left its share (S3, beside the report: too big for the state)."""

    worker: int
    key: str


class CandidateState(_Event):
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


def _candidate_record(state: CandidateState, **fields: Any) -> CandidateRecord:
    return CandidateRecord(
        run_id=state.run.run_id,
        index=state.candidate.index,
        candidate=state.candidate.candidate,
        endpoint_name=state.candidate.name,
        **fields,
    )


class LoadWorkerEvent(CandidateState):
    worker: int = Field(ge=0)


@contextmanager
def _driving(state: CandidateState, s3: Any) -> Iterator[tuple[Transport, bytes]]:
    """The candidate's endpoint as a load transport (closed afterwards), and the request body."""
    from infercost import loadgen

    payload = artifacts.read_payload(s3, state.run.artifact.bucket, state.benchmark.payload)
    transport = loadgen.endpoint_transport(
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
    from infercost import loadgen

    with _driving(state, s3) as (transport, payload):
        share = loadgen.run_sweep_share(
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
    from infercost import loadgen

    if not state.sweep:
        return None
    shares = [
        loadgen.SweepShare.model_validate(artifacts.get_json(s3, settings.artifacts_bucket, ref.key))
        for ref in sorted(state.sweep, key=lambda ref: ref.worker)
    ]
    return loadgen.merge_sweep_shares(shares, state.benchmark.load, state.benchmark.slo)


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
    from infercost import loadgen

    store.put_candidate(run_key(state.run), _candidate_record(state, status="RUNNING"))
    swept = _merged_sweep(state, s3, settings)
    with _driving(state, s3) as (transport, payload):
        result = loadgen.run_load_test(
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
        _candidate_record(
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
        release_in_seconds=release_wait_seconds(result.ended_at, time.time(), state.timing),
    )


def _level_summary(level: Any) -> dict[str, Any]:
    """A sweep level without its sketch (the sketch is for merging, not for reading)."""
    data: dict[str, Any] = level.model_dump(mode="json", exclude={"sketch", "error_examples"})
    return data


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
    from infercost.data.metrics import collect_endpoint_metrics

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
    elif load.latency_ms is not None:
        latency, source = load.latency_ms, "client"
    else:
        raise InputError("no latency was measured, neither by CloudWatch nor by the client")
    result = CandidateResult(
        candidate=state.candidate.candidate,
        price_per_hour_usd=state.candidate.price_per_hour_usd,
        price_source=state.candidate.price_source,
        latency_ms=latency,
        max_rps_at_slo=load.max_rps_at_slo,
        # Every request counts as an invocation, failed ones included (ResultsFile.error_rate).
        invocations=load.requests,
        errors=load.errors,
        source=source,
    )
    store.put_candidate(
        run_key(state.run),
        _candidate_record(
            state,
            status="RUNNING",
            result=result.model_dump(mode="json"),
            server_latency_ms=server.model_dump(mode="json") if server else None,
        ),
    )
    return MetricsSummary(
        source=source, partial=bool(metrics.partial), sample_count=int(metrics.sample_count or 0)
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
        _candidate_record(
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
    now: Callable[[], datetime] = _now,
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


class TeardownEvent(_Event):
    state: CandidateState


class TeardownSummary(_Summary):
    status: Literal["COMPLETED", "FAILED"]
    error: str | None


def teardown(
    state: CandidateState,
    *,
    sagemaker: Any,
    logs: Any,
    store: ResultsStore,
    time_budget_s: float,
    now: Callable[[], datetime] = _now,
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
        store.put_candidate(run_key(state.run), _candidate_record(state, status="FAILED", error=unsettled))
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
        _candidate_record(
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


# --- after the Map ----------------------------------------------------------------------------


class RunEvent(_Event):
    run: RunRef


def _view(store: ResultsStore, run: RunRef) -> RunView:
    view = store.get_run_by_key(run_key(run))
    if view is None:
        raise InputError(f"run {run.run_id} of {run.model} is not in the results table", field="run")
    return view


class RecommendSummary(_Summary):
    recommended: str | None
    reason: str


def stored_spec(view: RunView) -> EvaluationSpec:
    """The evaluation spec a stored run was measured with (without the local stack's note)."""
    return EvaluationSpec.model_validate({k: v for k, v in (view.run.spec or {}).items() if k != "simulated"})


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
            "traffic": spec.traffic,
        }
    )


def recommend_run(run: RunRef, *, store: ResultsStore, prices: Callable[[], PriceLookup]) -> RecommendSummary:
    """Cost and rank what was measured, compare with the previous run, record both."""
    from infercost.domain.recommend import recommend
    from infercost.domain.regression import detect_regressions

    view = _view(store, run)
    spec = stored_spec(view)
    results_file = results_of(view)
    recommendation = recommend(
        results_file,
        prices(),
        slo=spec.slo,
        traffic=spec.traffic,
        max_error_rate=spec.load.max_error_rate,
    )
    previous = store.previous_successful_run(run.model, run_key(run), spec.slo)
    regressions = detect_regressions(recommendation, previous.parsed_recommendation() if previous else None)
    costs = [c.benchmark_cost_usd for c in view.candidates if c.benchmark_cost_usd is not None]
    seconds = [c.endpoint_seconds for c in view.candidates if c.endpoint_seconds is not None]
    store.update_run(
        run_key(run),
        recommendation=recommendation,
        regressions=[r.model_dump(mode="json") for r in regressions],
        benchmark_cost_usd=sum(costs) if costs else None,
        endpoint_seconds=sum(seconds) if seconds else None,
    )
    winner = recommendation.recommended
    return RecommendSummary(recommended=winner.label if winner else None, reason=recommendation.reason)


class ReportSummary(_Summary):
    report_key: str


def report_run(run: RunRef, *, store: ResultsStore, s3: Any, settings: Settings) -> ReportSummary:
    """Render the run's HTML report into the artifacts bucket and record where it is."""
    from infercost.report import render_run_report

    view = _view(store, run)
    html = render_run_report(view, regressions=view.run.regressions or [])
    key = artifacts.report_key(settings.reports_prefix, run.model, run.run_id)
    artifacts.put_report(s3, settings.artifacts_bucket, key, html)
    store.update_run(run_key(run), report_key=key)
    return ReportSummary(report_key=key)


class NotifyEvent(_Event):
    run: RunRef
    outcome: Literal["SUCCEEDED", "FAILED"]


class NotifySummary(_Summary):
    sns_message_id: str | None
    slack_delivered: bool | None


def notify(
    event: NotifyEvent,
    *,
    store: ResultsStore,
    sns: Any,
    secretsmanager: Any | None,
    report_s3: Any | None,
    settings: Settings,
    now: Callable[[], datetime] = _now,
) -> NotifySummary:
    """Finish a successful run, then tell the team (SNS, and Slack when configured)."""
    from infercost.notify import notify_run, report_links, slack_webhook_from_secret

    key = run_key(event.run)
    if event.outcome == "SUCCEEDED":
        finished = now()
        started = datetime.fromisoformat(event.run.started_at.replace("Z", "+00:00"))
        store.finish_run(
            key,
            status="SUCCEEDED",
            finished_at=finished,
            timings={"total_seconds": round((finished - started).total_seconds(), 3)},
        )
    view = _view(store, event.run)
    links = None
    if view.run.report_key:
        links = report_links(
            run_id=event.run.run_id,
            bucket=settings.artifacts_bucket,
            key=view.run.report_key,
            region=settings.region,
            table=settings.table_name,
            s3_client=report_s3,
            # Only the local stack sets the note: its bucket and table are in no AWS account.
            in_aws_account=settings.simulated_note is None,
        )
    webhook = None
    if settings.slack_secret_arn and secretsmanager is not None:
        webhook = slack_webhook_from_secret(secretsmanager, settings.slack_secret_arn)
    result = notify_run(
        view,
        sns_client=sns,
        topic_arn=settings.topic_arn,
        slack_webhook_url=webhook,
        links=links,
        regressions=view.run.regressions or [],
    )
    return NotifySummary(
        sns_message_id=result.sns_message_id,
        slack_delivered=result.slack_delivered if webhook else None,
    )
