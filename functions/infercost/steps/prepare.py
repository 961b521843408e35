"""Prepare: read and validate the spec beside the artifact, price and quota-check the candidates,
record the run, and plan what the workflow creates."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from infercost.data import artifacts, endpoints
from infercost.data.store import ResultsStore
from infercost.domain.errors import InfercostError, InputError
from infercost.domain.models import (
    Candidate,
    EvaluationSpec,
)
from infercost.domain.prices import PriceBasis, PriceLookup, PriceSource
from infercost.domain.records import CandidateRecord
from infercost.domain.traffic import TrafficFromEndpoint
from infercost.domain.workflow import (
    Benchmark,
    Evaluation,
    ObjectCreatedEvent,
    RunRef,
    Timing,
    allocate_quota,
    container_definitions,
    load_workers,
    merge_spec,
    merge_timing,
    model_name_from_key,
    parse_spec,
    plan_candidates,
    spec_key_for,
)

if TYPE_CHECKING:
    from infercost.data.settings import (
        Settings,  # loadgen is imported where it is used (cold start of the other steps)
    )

    pass
from infercost.steps.common import StepEvent, run_key, run_ref_for, running_record

MODEL_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$"


# Step Functions state is limited to 256 KB; the inline request body is copied into it.
MAX_INLINE_PAYLOAD_BYTES = 32 * 1024


# What a stored spec keeps of the container's environment: the names; values may be secrets.
REDACTED = "(not stored)"


class PriceBookLike(PriceLookup, Protocol):
    def check_candidate(self, candidate: Candidate) -> None: ...

    @property
    def fallback_note(self) -> str | None:
        """Why the snapshot priced the run when live prices were asked for (None if it did not)."""
        ...


class PrepareEvent(StepEvent):
    event: dict[str, Any]
    execution_arn: str
    execution_started_at: str


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
    cloudwatch: Any = None,
) -> Evaluation:
    """Read and validate the spec, price and quota-check the candidates, record the run.

    A spec that cannot be used gives `accepted=False` with the reason (the run is recorded; the
    failure path marks it FAILED and notifies). Nothing is created in SageMaker here. A spec whose
    traffic names an endpoint has that endpoint's history read through `cloudwatch`.
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
        return _accept(
            run, spec_data, timing, settings, sagemaker, servicequotas, store, prices, cloudwatch, s3
        )
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
    cloudwatch: Any,
    s3: Any,
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
    if spec.workload is not None:
        # Prompts that are not JSONL or a tokenizer that does not parse end the run here, before
        # any endpoint exists.
        from infercost.steps.workload import load_prompts

        load_prompts(s3, run.artifact.bucket, spec.workload)
    workers = load_workers(spec.load)
    if workers > settings.max_sweep_workers:
        raise InputError(
            f"the sweep would need {workers} LoadWorker Lambdas per candidate; this stack reserves "
            f"concurrency for {settings.max_sweep_workers} (infercost:max_sweep_workers)",
            field="load.workers" if spec.load.workers is not None else "load.concurrency",
            hint="lower the highest concurrency level or load.workers, or deploy with a higher maximum",
        )
    refused = [finding for finding in spec.image_findings() if finding.level == "error"]
    if refused:
        raise InputError(refused[0].message, field=refused[0].path)
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
    bases: dict[int, PriceBasis] = {}
    for index, candidate in enumerate(spec.candidates):
        try:
            book.check_candidate(candidate)
            hourly[index] = None
            if not candidate.is_serverless:
                price = book.candidate_price(candidate)
                hourly[index], sources[index] = price.usd_per_hour, price.source
                if price.basis is not None:
                    bases[index] = price.basis
        except InputError as error:
            field = f"candidates[{index}]" + (f".{error.field}" if error.field else "")
            raise InputError(error.message, field=field, hint=error.hint) from None
    headroom = _quota_headroom(servicequotas, sagemaker, spec.candidates)
    skipped = allocate_quota(spec.candidates, headroom)
    containers, container_indexes = container_definitions(spec, run.artifact)
    plans = plan_candidates(
        spec,
        run,
        prefix=settings.resource_prefix,
        prices=hourly,
        price_sources=sources,
        price_bases=bases,
        skipped=skipped,
        container_indexes=container_indexes,
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
    traffic, traffic_note = resolve_traffic(spec, cloudwatch)
    # The run says so when the Price List API did not answer and the snapshot priced it.
    store.update_run(
        run_key(run),
        spec=stored_spec,
        slo=spec.slo,
        price_note=book.fallback_note,
        traffic=traffic,
        traffic_note=traffic_note,
    )
    for plan in plans:
        store.put_candidate(
            run_key(run),
            CandidateRecord(
                run_id=run.run_id,
                index=plan.index,
                candidate=plan.candidate,
                status="SKIPPED" if plan.status == "SKIPPED" else "PENDING",
                endpoint_name=plan.name,
                image_uri=plan.image_uri,
                error=plan.skip_reason,
            ),
        )
    return Evaluation(
        accepted=True,
        run=run,
        timing=timing,
        benchmark=Benchmark(
            containers=containers,
            payload=spec.payload,
            load=spec.load,
            slo=spec.slo,
            workers=list(range(workers)),
            workload=spec.workload,
        ),
        candidates=plans,
        estimated_cost_usd=estimate.cost_usd,
    )


def resolve_traffic(spec: EvaluationSpec, cloudwatch: Any) -> tuple[dict[str, Any] | None, str | None]:
    """The traffic profile read from the endpoint the spec names, or why it could not be read.

    Nothing is read when the spec gives the traffic itself. A history that cannot be read (no
    data, a refused or failed call) does not stop the run: it goes on without a traffic profile
    (no monthly projection) and the note says why (docs/architecture.md, "Traffic from an
    endpoint").
    """
    wanted = spec.traffic
    if not isinstance(wanted, TrafficFromEndpoint):
        return None, None
    from infercost.data.traffic import read_traffic

    try:
        if cloudwatch is None:
            raise InputError("no CloudWatch client was given to read it", field="traffic.endpoint")
        profile = read_traffic(
            cloudwatch,
            wanted.endpoint,
            variant=wanted.variant,
            days=wanted.days,
            request_kb=wanted.request_kb,
            response_kb=wanted.response_kb,
            field="traffic.endpoint",
            days_field="traffic.days",
        )
    except InfercostError as error:
        return None, (
            f"no traffic profile: the history of endpoint {wanted.endpoint} could not be read, so "
            f"the run has no monthly projection ({error.one_line()})"
        )
    return profile.model_dump(mode="json"), None


def redacted_spec(spec: EvaluationSpec) -> dict[str, Any]:
    """The spec as stored with the run: the container's environment keeps its names only."""
    data: dict[str, Any] = spec.model_dump(mode="json")
    data["model"]["environment"] = dict.fromkeys(spec.model.environment, REDACTED)
    for candidate, stored in zip(spec.candidates, data["candidates"], strict=True):
        if candidate.container is not None and candidate.container.environment is not None:
            stored["container"]["environment"] = dict.fromkeys(candidate.container.environment, REDACTED)
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
