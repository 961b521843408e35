"""The evaluation workflow's data: what travels between the states, and the pure decisions on it.

The state machine (statemachine/evaluate.asl.json) passes these shapes between its states; the
handlers parse them with the models below. Nothing here calls AWS.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from infercost.domain.errors import InputError
from infercost.domain.models import Candidate, EvaluationSpec, LoadPlan, PayloadSpec, Slo
from infercost.domain.prices import PriceBasis, PriceSource
from infercost.domain.workload import LlmWorkload

SPEC_FILE_NAME = "infercost.json"
# Step Functions' history holds 25,000 events per execution and a candidate's execution spends
# about 11 of them per DescribeEndpoint poll: a bound on the polls keeps it far from the limit
# (docs/deploy.md, "What AWS enforces that the local stack does not").
MAX_ENDPOINT_POLLS = 1000
# The endpoint is deleted at most this long after the last measured request (docs/method.md).
MAX_RELEASE_DELAY_S = 90
# Timing's default metrics_flush_seconds; the pre-run estimate assumes it too.
DEFAULT_METRICS_FLUSH_S = 30
VARIANT_NAME = "AllTraffic"
RUN_ID_TAG = "infercost:run-id"
MANAGED_TAG = "infercost:managed"
MAX_NAME_CHARS = 63
RUN_ID_CHARS = 10
# The spec keys that the stack defaults (INFERCOST_DEFAULTS) may fill.
DEFAULTABLE_SPEC_KEYS = ("candidates", "slo", "load", "traffic", "max_benchmark_cost_usd")


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)


# --- the trigger ---------------------------------------------------------------------------


class S3Bucket(_Shape):
    name: str = Field(min_length=1)


class S3Object(_Shape):
    key: str = Field(min_length=1)
    size: int | None = None
    etag: str | None = None
    version_id: str | None = Field(default=None, alias="version-id")


class ObjectCreatedDetail(_Shape):
    bucket: S3Bucket
    object: S3Object
    reason: str | None = None


class ObjectCreatedEvent(_Shape):
    """The EventBridge `Object Created` event from S3, as the state machine receives it."""

    detail_type: str = Field(alias="detail-type")
    source: str
    time: str | None = None
    region: str | None = None
    detail: ObjectCreatedDetail
    workflow: dict[str, Any] | None = Field(
        default=None, description="timing overrides added by tests and the demo"
    )

    @property
    def bucket(self) -> str:
        return self.detail.bucket.name

    @property
    def key(self) -> str:
        return self.detail.object.key

    @property
    def version_id(self) -> str | None:
        version = self.detail.object.version_id
        return version if version and version != "null" else None


class Artifact(_Shape):
    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


# --- what the states pass on ------------------------------------------------------------------


class RunRef(_Shape):
    """Identifies the run in every state: the run item's key plus where it came from."""

    model: str
    started_at: str
    run_id: str
    execution_arn: str
    artifact: Artifact


class Timing(_Shape):
    """Waits, poll intervals and deadlines (docs/architecture.md, "workflow timing"), in seconds."""

    max_concurrency: int = Field(default=4, ge=1, le=40)
    endpoint_poll_seconds: int = Field(default=30, ge=0, le=3600)
    endpoint_deadline_seconds: int = Field(default=1800, ge=0, le=86_400)
    metrics_delay_seconds: int = Field(default=60, ge=0, le=3600)
    metrics_poll_seconds: int = Field(default=30, ge=0, le=900)
    metrics_deadline_seconds: int = Field(default=600, ge=0, le=900)
    # CloudWatch aggregates SageMaker's latency per minute: start the measured run on a fresh
    # minute so that no warm-up or sweep request shares a datapoint with it.
    align_to_minute: bool = True
    # After the measured run's last minute has closed, the endpoint lives this much longer so
    # that SageMaker can emit that minute's metrics; then it is deleted.
    metrics_flush_seconds: int = Field(default=DEFAULT_METRICS_FLUSH_S, ge=0, le=MAX_RELEASE_DELAY_S)
    # SageMaker cannot delete an endpoint that is still Creating; Teardown waits this long (within
    # its Lambda's 15 minutes) for it to settle, then leaves it to the scheduled janitor.
    teardown_settle_seconds: int = Field(default=600, ge=0, le=840)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def endpoint_max_polls(self) -> int:
        """DescribeEndpoint calls before the deadline (the loop counts polls; ASL has no clock math)."""
        return max(1, math.ceil(self.endpoint_deadline_seconds / max(self.endpoint_poll_seconds, 1)))

    @model_validator(mode="after")
    def _bounded_polls(self) -> Self:
        if self.endpoint_max_polls > MAX_ENDPOINT_POLLS:
            raise ValueError(
                f"endpoint_deadline_seconds / endpoint_poll_seconds gives {self.endpoint_max_polls} "
                f"DescribeEndpoint polls; at most {MAX_ENDPOINT_POLLS} keep a candidate's execution "
                "history within Step Functions' 25,000 events: poll less often or shorten the deadline"
            )
        return self


def release_wait_seconds(ended_at: float, now: float, timing: Timing) -> int:
    """Seconds from `now` until the endpoint may be deleted (epoch seconds in, whole seconds out).

    CloudWatch keeps SageMaker's metrics after the endpoint is gone, but the endpoint must live
    until the measured run's last minute has closed (per second on the local stack) plus the flush
    allowance, and never longer than MAX_RELEASE_DELAY_S after the last measured request.
    """
    closed = math.ceil(ended_at / 60) * 60 if timing.align_to_minute else ended_at
    target = min(closed + timing.metrics_flush_seconds, ended_at + MAX_RELEASE_DELAY_S)
    return max(0, math.ceil(target - now))


def metrics_wait_seconds(ended_at: float, now: float, timing: Timing) -> int:
    """What is left of the metrics delay (counted from the last measured request) at `now`."""
    return max(0, math.ceil(ended_at + timing.metrics_delay_seconds - now))


# A sweep worker (one Lambda with one vCPU, 1,769 MB) holds at most this many connections. The
# load client drives about 58 k signed requests per second of its own CPU time over TLS
# (docs/benchmarks.md §1, invoke_tls), so 64 connections saturate it only when the endpoint
# answers in under about 1.1 ms; a level that
# does saturate it is marked client_bound and ends the sweep with a note to raise `load.workers`
# (docs/method.md §2), which overrides the count this gives.
MAX_CONNECTIONS_PER_WORKER = 64


def load_workers(plan: LoadPlan) -> int:
    """How many workers drive the sweep at once: `load.workers`, else one per 64 connections."""
    highest = max(plan.concurrency)
    if plan.workers is not None:
        return min(plan.workers, highest)
    return max(1, math.ceil(highest / MAX_CONNECTIONS_PER_WORKER))


class Benchmark(_Shape):
    """What every candidate shares: the containers, the request, the load plan and the SLO.

    Run-wide data travels once per candidate execution, never once per candidate in the parent's
    state: an inline body (≤ 32 KB) and the containers' environments (≤ 32 KB together) would
    otherwise multiply past Step Functions' 256 KB payload limit. Each candidate names its
    container by index (`CandidatePlan.container_index`); candidates with the same image,
    artifact and environment share one entry.
    """

    containers: list[dict[str, Any]] = Field(
        min_length=1, description="CreateModel's PrimaryContainer of each distinct container"
    )
    payload: PayloadSpec
    load: LoadPlan
    slo: Slo
    workers: list[int] = Field(
        default_factory=lambda: [0],
        description="the sweep's workers, one Lambda each; more than one runs them as a Map",
    )
    workload: LlmWorkload | None = Field(default=None, description="an LLM workload: prompts, tokens")


CandidatePlanStatus = Literal["PENDING", "SKIPPED"]


class CandidatePlan(_Shape):
    """One candidate as the Map iterates it: its SageMaker resources, ready to create."""

    index: int = Field(ge=0)
    label: str
    candidate: Candidate
    status: CandidatePlanStatus = "PENDING"
    skip_reason: str | None = None
    name: str = Field(description="name of its model, endpoint config and endpoint")
    production_variants: list[dict[str, Any]]
    tags: list[dict[str, str]]
    container_index: int = Field(default=0, ge=0, description="its entry in Benchmark.containers")
    image_uri: str | None = Field(default=None, description="the image it runs (recorded with its results)")
    price_per_hour_usd: float | None = None
    price_source: PriceSource | None = None
    price_basis: PriceBasis | None = None


class Evaluation(_Shape):
    """Prepare's output: the run, and either the plan (accepted) or why it was rejected."""

    accepted: bool
    error: str | None = None
    run: RunRef
    timing: Timing = Field(default_factory=Timing)
    benchmark: Benchmark | None = None
    candidates: list[CandidatePlan] = Field(default_factory=list)
    estimated_cost_usd: float | None = None


class TaskError(_Shape):
    """What a Catch puts in the state: the error name and its cause."""

    Error: str
    Cause: str | None = None

    def reason(self) -> str:
        """One line for a person: a Lambda error's message, else the cause, else the error name."""
        cause = (self.Cause or "").strip()
        if cause.startswith("{"):
            try:
                parsed = json.loads(cause)
            except json.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict) and parsed.get("errorMessage"):
                cause = str(parsed["errorMessage"])
        return " ".join(cause.split()) or self.Error


# --- decisions ----------------------------------------------------------------------------


def run_identity(execution_arn: str) -> str:
    """The run id: derived from the execution, so a retried Prepare names the same run."""
    return hashlib.sha256(execution_arn.encode()).hexdigest()[:RUN_ID_CHARS]


def model_name_from_key(key: str) -> str:
    """A model name for a run whose spec gave none: the artifact's folder, else its file stem.

    'models/densenet121/model.tar.gz' -> 'densenet121'; 'models/resnet50.tar.gz' -> 'resnet50'.
    """
    parts = [p for p in key.split("/") if p]
    stem = parts[-1].split(".")[0] if parts else ""
    folder = parts[-2] if len(parts) >= 3 else ""
    name = folder or stem or "model"
    cleaned = re.sub(r"[^a-zA-Z0-9]+", "-", name).strip("-")[:40].strip("-")
    return cleaned or "model"


def spec_key_for(artifact_key: str) -> str:
    """The spec's key: 'infercost.json' in the artifact's folder."""
    folder, _, _ = artifact_key.rpartition("/")
    return f"{folder}/{SPEC_FILE_NAME}" if folder else SPEC_FILE_NAME


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Objects merge key by key; anything else (lists, numbers) in `override` replaces `base`."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def merge_spec(stack_defaults: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """Stack defaults fill what the spec omits (built-in defaults fill the rest on validation)."""
    defaults = {k: v for k, v in stack_defaults.items() if k in DEFAULTABLE_SPEC_KEYS}
    return deep_merge(defaults, spec)


def parse_spec(data: Any, *, source: str) -> EvaluationSpec:
    """Validate a merged spec, naming the source and the field at fault."""
    if not isinstance(data, Mapping):
        raise InputError(
            f"{source} must hold a JSON object, got {type(data).__name__}",
            field=SPEC_FILE_NAME,
            hint='e.g. {"model": {...}, "payload": {...}}',
        )
    from infercost.domain.models import parse_model

    try:
        return parse_model(EvaluationSpec, data)
    except InputError as error:
        raise InputError(f"{error.message} (in {source})", field=error.field, hint=error.hint) from None


def merge_timing(stack_defaults: Mapping[str, Any] | None, overrides: Mapping[str, Any] | None) -> Timing:
    """Built-in timing < stack defaults (`INFERCOST_DEFAULTS.workflow`) < the input's `workflow`."""
    from infercost.domain.models import parse_model

    merged = deep_merge(dict(stack_defaults or {}), dict(overrides or {}))
    merged.pop("endpoint_max_polls", None)
    unknown = sorted(set(merged) - set(Timing.model_fields))
    if unknown:
        raise InputError(
            "is not a timing key",
            field=f"workflow.{unknown[0]}",
            hint=f"one of {', '.join(Timing.model_fields)}",
        )
    return parse_model(Timing, merged, prefix="workflow")


def resource_name(prefix: str, run_id: str, index: int, candidate: Candidate) -> str:
    """'<prefix>-<run id>-<nn>-<slug>', lower case, at most 63 characters; the slug is cut first."""
    head = f"{prefix}-{run_id}-{index:02d}".lower()
    room = MAX_NAME_CHARS - len(head) - 1
    slug = candidate.slug.lower()[: max(room, 0)].strip("-")
    name = f"{head}-{slug}" if slug else head
    if len(name) > MAX_NAME_CHARS:
        raise InputError(
            f"resource names would be {len(name)} characters (SageMaker allows 63)",
            field="INFERCOST_RESOURCE_PREFIX",
            hint="use a shorter prefix",
        )
    return name


def resource_tags(run_id: str) -> list[dict[str, str]]:
    return [{"Key": RUN_ID_TAG, "Value": run_id}, {"Key": MANAGED_TAG, "Value": "true"}]


def production_variants(name: str, candidate: Candidate) -> list[dict[str, Any]]:
    """The CreateEndpointConfig variants of one candidate (instances, or serverless)."""
    variant: dict[str, Any] = {"VariantName": VARIANT_NAME, "ModelName": name}
    if candidate.serverless is not None:
        variant["ServerlessConfig"] = {
            "MemorySizeInMB": candidate.serverless.memory_mb,
            "MaxConcurrency": candidate.serverless.max_concurrency,
        }
    else:
        variant["InstanceType"] = candidate.instance_type
        variant["InitialInstanceCount"] = candidate.instance_count
        variant["InitialVariantWeight"] = 1.0
        if candidate.accelerator_type:
            variant["AcceleratorType"] = candidate.accelerator_type
    return [variant]


def candidate_from_variant(variant: Mapping[str, Any]) -> Candidate:
    """The candidate a production variant stands for (the inverse of `production_variants`)."""
    serverless = variant.get("ServerlessConfig")
    if serverless:
        return Candidate.model_validate(
            {
                "serverless": {
                    "memory_mb": serverless["MemorySizeInMB"],
                    "max_concurrency": serverless.get("MaxConcurrency", 10),
                }
            }
        )
    data: dict[str, Any] = {
        "instance_type": variant["InstanceType"],
        "instance_count": variant.get("InitialInstanceCount", 1),
    }
    if variant.get("AcceleratorType"):
        data["accelerator_type"] = variant["AcceleratorType"]
    return Candidate.model_validate(data)


def container_definition(spec: EvaluationSpec, artifact: Artifact, index: int = 0) -> dict[str, Any]:
    """Candidate `index`'s CreateModel PrimaryContainer: its image (docs/method.md: the
    candidate's container, else the model's image for its hardware kind, else `model.image_uri`),
    its artifact (a `container.model_data_key` in the artifacts bucket, else the uploaded one) and
    its environment (the container's, else the model's)."""
    override = spec.candidates[index].container
    model_data = artifact.uri
    environment = dict(spec.model.environment)
    if override is not None:
        if override.model_data_key:
            model_data = f"s3://{artifact.bucket}/{override.model_data_key}"
        if override.environment is not None:
            environment = dict(override.environment)
    return {"Image": spec.image_of(index), "ModelDataUrl": model_data, "Environment": environment}


def container_definitions(spec: EvaluationSpec, artifact: Artifact) -> tuple[list[dict[str, Any]], list[int]]:
    """The distinct containers of a spec's candidates, and each candidate's index into them."""
    containers: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    indexes = []
    for index in range(len(spec.candidates)):
        container = container_definition(spec, artifact, index)
        key = json.dumps(container, sort_keys=True)
        if key not in seen:
            seen[key] = len(containers)
            containers.append(container)
        indexes.append(seen[key])
    return containers, indexes


def plan_candidates(
    spec: EvaluationSpec,
    run: RunRef,
    *,
    prefix: str,
    prices: Mapping[int, float | None],
    price_sources: Mapping[int, PriceSource] | None = None,
    price_bases: Mapping[int, PriceBasis] | None = None,
    skipped: Mapping[int, str],
    container_indexes: Sequence[int] | None = None,
) -> list[CandidatePlan]:
    """One plan per candidate of the spec, in its order; `skipped` maps index -> reason. The plan's
    candidate leaves its container out: that travels once, in `Benchmark.containers`."""
    tags = resource_tags(run.run_id)
    plans = []
    for index, spec_candidate in enumerate(spec.candidates):
        candidate = spec_candidate.model_copy(update={"container": None})
        name = resource_name(prefix, run.run_id, index, candidate)
        reason = skipped.get(index)
        plans.append(
            CandidatePlan(
                index=index,
                label=candidate.label,
                candidate=candidate,
                status="SKIPPED" if reason else "PENDING",
                skip_reason=reason,
                name=name,
                production_variants=production_variants(name, candidate),
                tags=tags,
                container_index=container_indexes[index] if container_indexes else 0,
                image_uri=spec.image_of(index),
                price_per_hour_usd=prices.get(index),
                price_source=(price_sources or {}).get(index),
                price_basis=(price_bases or {}).get(index),
            )
        )
    return plans


def allocate_quota(candidates: Sequence[Candidate], headroom: Mapping[str, int | None]) -> dict[int, str]:
    """Which candidates cannot get instances: index -> reason. None headroom means unknown.

    Candidates of one instance type share its headroom in spec order, because the Map may run
    them at the same time.
    """
    left = dict(headroom)
    skipped: dict[int, str] = {}
    for index, candidate in enumerate(candidates):
        if candidate.instance_type is None:
            continue
        available = left.get(candidate.instance_type)
        if available is None:
            continue
        if candidate.instance_count > available:
            skipped[index] = (
                f"no endpoint quota left for {candidate.instance_type}: needs "
                f"{candidate.instance_count} instance(s), {max(available, 0)} available "
                "(request an increase in Service Quotas: "
                f"'{candidate.instance_type} for endpoint usage')"
            )
            continue
        left[candidate.instance_type] = available - candidate.instance_count
    return skipped
