"""The spec infercost reads (docs/architecture.md): model, payload, candidates, SLO, load plan.

Results and recommendations are in infercost.domain.results, traffic in infercost.domain.traffic.

Field names here are an interface: the workflow, the CLI, the report and other tools rely on them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from infercost.domain.containers import (
    ENVIRONMENT_MAX_TOTAL_BYTES,
    ContainerOverride,
    ImageUri,
    check_environment,
    environment_bytes,
)
from infercost.domain.errors import InputError, from_validation_error
from infercost.domain.hardware import HARDWARE_KINDS, Finding, HardwareKind, hardware_kind, judge_image
from infercost.domain.traffic import Objective, ServingSpec, TrafficFromEndpoint, TrafficProfile
from infercost.domain.workload import LlmWorkload

Percentile = Literal["p50", "p90", "p95", "p99", "max"]
PERCENTILES: tuple[Percentile, ...] = ("p50", "p90", "p95", "p99", "max")
# The quantile each percentile name stands for (max is the 100th percentile).
QUANTILES: dict[Percentile, float] = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "max": 1.0}

# What every output of a local run (the demo, the embedded stack) says about its latencies.
SIMULATED_HARDWARE = (
    "Hardware differences between candidates are simulated: this run used local model servers "
    "with declared speed profiles (infercost demo), not SageMaker instances. The method and the "
    "cost arithmetic are real; the latencies are not those of the named instance types."
)
INSTANCE_TYPE_PATTERN = r"^ml\.[a-z0-9]+(-[a-z0-9]+)?\.[a-z0-9]+$"
ACCELERATOR_TYPE_PATTERN = r"^ml\.eia[12]\.(medium|large|xlarge)$"
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
INVOKE_ENDPOINT_TIMEOUT_S = 60

M = TypeVar("M", bound=BaseModel)


# Every model builds its validator at first use (`defer_build`), not at import: a Lambda handler
# validates a few of the package's models, and building all of them was about a fifth of its
# import time (docs/benchmarks.md, "Lambda cold start").
DEFERRED = ConfigDict(defer_build=True)


class _Strict(BaseModel):
    """Specs are written by hand: an unknown key is almost always a typo, so it is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ServerlessConfig(_Strict):
    """SageMaker Serverless Inference: memory size and maximum concurrent invocations."""

    memory_mb: int = Field(description="1024..6144 in steps of 1024")
    max_concurrency: int = Field(default=10, ge=1, le=200)

    @field_validator("memory_mb")
    @classmethod
    def _memory_step(cls, value: int) -> int:
        if value not in SERVERLESS_MEMORY_MB:
            raise ValueError("must be one of 1024, 2048, 3072, 4096, 5120, 6144 (MB)")
        return value


class Candidate(_Strict):
    """One endpoint configuration to measure: instances (with an optional accelerator) or serverless."""

    instance_type: str | None = Field(default=None, pattern=INSTANCE_TYPE_PATTERN)
    accelerator_type: str | None = Field(default=None, pattern=ACCELERATOR_TYPE_PATTERN)
    instance_count: int = Field(default=1, ge=1, le=100)
    serverless: ServerlessConfig | None = None
    container: ContainerOverride | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.instance_type is None) == (self.serverless is None):
            raise ValueError(
                "give exactly one of instance_type (e.g. 'ml.c7g.large') or serverless "
                "(e.g. {'memory_mb': 2048})"
            )
        if self.serverless is not None and self.accelerator_type is not None:
            raise ValueError("accelerator_type cannot be attached to a serverless candidate")
        if self.serverless is not None and self.instance_count != 1:
            raise ValueError("instance_count does not apply to a serverless candidate")
        return self

    @model_serializer(mode="wrap")
    def _compact(self, handler: Any) -> dict[str, Any]:
        # The documented shape: no nulls, and no instance_count on a serverless candidate.
        data: dict[str, Any] = handler(self)
        data = {key: value for key, value in data.items() if value is not None}
        if self.serverless is not None:
            data.pop("instance_count", None)
        return data

    @property
    def is_serverless(self) -> bool:
        return self.serverless is not None

    @property
    def uses_elastic_inference(self) -> bool:
        return self.accelerator_type is not None

    @property
    def label(self) -> str:
        """Human-readable name: 'ml.c5.large + ml.eia2.medium', '2 × ml.g5.xlarge', 'serverless 4096 MB'."""
        if self.serverless is not None:
            return f"serverless {self.serverless.memory_mb} MB"
        base = (
            f"{self.instance_count} × {self.instance_type}"
            if self.instance_count > 1
            else str(self.instance_type)
        )
        return f"{base} + {self.accelerator_type}" if self.accelerator_type else base

    @property
    def slug(self) -> str:
        """Short name usable in AWS resource names: 'c5-large-eia2-medium', 'sls-4096'."""
        if self.serverless is not None:
            return f"sls-{self.serverless.memory_mb}"
        parts = [str(self.instance_type).removeprefix("ml.")]
        if self.accelerator_type:
            parts.append(self.accelerator_type.removeprefix("ml."))
        if self.instance_count > 1:
            parts.append(f"x{self.instance_count}")
        return re.sub(r"[^a-zA-Z0-9]+", "-", "-".join(parts)).strip("-")


class Slo(_Strict):
    """A latency objective: the chosen percentile must not exceed max_latency_ms."""

    percentile: Percentile
    max_latency_ms: float = Field(gt=0)

    @field_validator("percentile", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            if value not in PERCENTILES:
                raise ValueError(f"must be one of {', '.join(PERCENTILES)}, got {value!r}")
        return value

    @classmethod
    def parse(cls, text: str) -> Slo:
        """Parse the CLI form 'p90:80' (percentile : milliseconds)."""
        percentile, sep, bound = text.partition(":")
        if not sep:
            raise InputError(f"expected PERCENTILE:MILLISECONDS such as p90:80, got {text!r}", field="--slo")
        try:
            bound_ms = float(bound.removesuffix("ms"))
        except ValueError:
            raise InputError(
                f"the latency bound {bound!r} is not a number", field="--slo", hint="e.g. p90:80"
            ) from None
        return parse_model(cls, {"percentile": percentile, "max_latency_ms": bound_ms}, prefix="--slo")

    def describe(self) -> str:
        return f"{self.percentile.upper()} ≤ {self.max_latency_ms:g} ms"


class LoadPlan(_Strict):
    """How each candidate is driven: warm-up, measured requests one at a time, then a concurrency sweep."""

    warmup: int = Field(default=100, ge=0, le=100_000)
    requests: int = Field(default=1000, ge=1, le=1_000_000)
    concurrency: list[Annotated[int, Field(ge=1, le=1024)]] = Field(default_factory=lambda: [1])
    requests_per_level: int | None = Field(
        default=None, ge=1, le=1_000_000, description="requests at each sweep level (default: requests)"
    )
    max_error_rate: float = Field(default=0.01, ge=0, le=1)
    # SageMaker's InvokeEndpoint gives up after 60 seconds (docs/deploy.md): a longer client
    # timeout would only wait for an error that has already happened.
    request_timeout_s: float = Field(default=60, gt=0, le=INVOKE_ENDPOINT_TIMEOUT_S)
    workers: int | None = Field(
        default=None,
        ge=1,
        le=32,
        description="workers (Lambdas) driving the sweep at once (default: one per 64 connections)",
    )

    @field_validator("concurrency")
    @classmethod
    def _levels(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("give at least one concurrency level, e.g. [1, 2, 4, 8]")
        return sorted(set(value))

    @classmethod
    def from_options(
        cls, warmup: int, requests: int, concurrency: str, requests_per_level: int | None, timeout_s: float
    ) -> LoadPlan:
        """The plan of `infercost loadtest`'s options; concurrency is the CLI form '1,2,4,8'."""
        try:
            levels = [int(part) for part in concurrency.split(",") if part.strip()]
        except ValueError:
            raise InputError(
                f"expected numbers such as 1,2,4,8, got {concurrency!r}", field="--concurrency"
            ) from None
        return parse_model(
            cls,
            {
                "warmup": warmup,
                "requests": requests,
                "concurrency": levels,
                "requests_per_level": requests_per_level,
                "request_timeout_s": timeout_s,
            },
        )

    @property
    def sweeps(self) -> bool:
        return any(level > 1 for level in self.concurrency)


class ModelSpec(_Strict):
    name: str = Field(min_length=1, max_length=40, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
    image_uri: ImageUri | None = Field(
        default=None, description="the image of every candidate that `images` or its container does not name"
    )
    images: dict[str, ImageUri] = Field(
        default_factory=dict,
        description="an image per hardware kind: cpu (x86), arm64 (Graviton), gpu (NVIDIA), neuron (Inferentia/Trainium)",
    )
    execution_role_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    environment: dict[str, str] = Field(
        default_factory=dict,
        description="the container's environment; values are passed to SageMaker and never stored",
    )

    @field_validator("images")
    @classmethod
    def _known_kinds(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(HARDWARE_KINDS))
        if unknown:
            raise ValueError(
                f"unknown hardware kind {unknown[0]!r}: use {', '.join(HARDWARE_KINDS)} "
                "(cpu = x86 CPUs and serverless, arm64 = Graviton, gpu = NVIDIA, neuron = Inferentia/Trainium)"
            )
        return value

    @field_validator("environment")
    @classmethod
    def _sagemaker_environment(cls, value: dict[str, str]) -> dict[str, str]:
        return check_environment(value)

    def image_for(self, kind: HardwareKind) -> str | None:
        return self.images.get(kind) or self.image_uri


class PayloadSpec(_Strict):
    """The request sent to each endpoint: an object next to the artifact, or an inline body."""

    content_type: str = "application/json"
    s3_key: str | None = None
    body: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.s3_key is None) == (self.body is None):
            raise ValueError(
                "give exactly one of s3_key (an object in the artifacts bucket) or body (inline text)"
            )
        return self


def default_candidates() -> list[Candidate]:
    """Current families (docs/method.md, section 6): Graviton and Intel CPUs, NVIDIA GPUs, Inferentia, serverless."""
    return [
        Candidate(instance_type="ml.c7g.large"),
        Candidate(instance_type="ml.c6i.large"),
        Candidate(instance_type="ml.m6i.large"),
        Candidate(instance_type="ml.g5.xlarge"),
        Candidate(instance_type="ml.g6.xlarge"),
        Candidate(instance_type="ml.inf2.xlarge"),
        Candidate(serverless=ServerlessConfig(memory_mb=4096, max_concurrency=10)),
    ]


def _traffic_kind(value: Any) -> str:
    """A traffic object naming an endpoint is read from its history; any other is a profile."""
    if isinstance(value, TrafficFromEndpoint) or (isinstance(value, dict) and "endpoint" in value):
        return "tagged-endpoint"
    return "tagged-profile"


class EvaluationSpec(_Strict):
    """The `infercost.json` beside a model artifact. Omitted parts take the stack defaults."""

    model: ModelSpec
    payload: PayloadSpec
    candidates: list[Candidate] = Field(default_factory=default_candidates, max_length=50)
    slo: Slo = Field(default_factory=lambda: Slo(percentile="p90", max_latency_ms=100))
    load: LoadPlan = Field(default_factory=LoadPlan)
    traffic: (
        Annotated[
            Annotated[TrafficProfile, Tag("tagged-profile")]
            | Annotated[TrafficFromEndpoint, Tag("tagged-endpoint")],
            Discriminator(_traffic_kind),
        ]
        | None
    ) = None
    serving: ServingSpec = Field(default_factory=ServingSpec)
    objective: Objective | None = Field(
        default=None,
        description="what to minimise; default monthly with a traffic profile, else per-inference",
    )
    max_benchmark_cost_usd: float | None = Field(default=None, gt=0)
    workload: LlmWorkload | None = Field(
        default=None, description="an LLM workload (kind 'llm'); omitted: a classic model, one payload"
    )

    @model_validator(mode="before")
    @classmethod
    def _llm_payload(cls, data: Any) -> Any:
        """An LLM workload builds its own requests from its prompts: its payload may be omitted."""
        workload = data.get("workload") if isinstance(data, dict) else None
        if isinstance(workload, dict) and workload.get("kind") not in ("llm", "classic", None):
            raise ValueError(
                f"@workload.kind: unknown workload kind {workload.get('kind')!r}: use 'llm' or 'classic'"
            )
        if isinstance(workload, dict) and workload.get("kind") == "llm" and "payload" not in data:
            return {**data, "payload": {"content_type": "application/json", "body": "{}"}}
        return data

    @field_validator("workload", mode="before")
    @classmethod
    def _classic_is_none(cls, value: Any) -> Any:
        if isinstance(value, dict) and value.get("kind") == "classic":
            if len(value) > 1:
                raise ValueError("a classic workload takes no other field: its request is `payload`")
            return None
        return value

    @field_validator("candidates")
    @classmethod
    def _some_candidates(cls, value: list[Candidate]) -> list[Candidate]:
        if not value:
            raise ValueError("give at least one candidate, e.g. [{'instance_type': 'ml.c7g.large'}]")
        seen: set[str] = set()
        for candidate in value:
            if candidate.label in seen:
                raise ValueError(f"candidate {candidate.label!r} is listed twice")
            seen.add(candidate.label)
        return value

    @model_validator(mode="after")
    def _runnable(self, info: ValidationInfo) -> Self:
        """Rules for a new run (a stored spec of an earlier run is read as it was written)."""
        if (info.context or {}).get("stored"):
            return self
        for index, candidate in enumerate(self.candidates):
            if candidate.accelerator_type is not None:
                raise ValueError(
                    f"@candidates[{index}].accelerator_type: Amazon Elastic Inference is no longer "
                    "available (AWS retired it); measure a GPU instance such as ml.g5.xlarge or "
                    "ml.g6.xlarge, or Inferentia (ml.inf2.xlarge), instead"
                )
            if self.image_of(index) is None:
                kind = hardware_kind(candidate.instance_type)
                raise ValueError(
                    f"@candidates[{index}]: {candidate.label} ({kind}) has no image: set "
                    f"model.images.{kind}, model.image_uri or candidates[{index}].container.image_uri"
                )
        environments = {
            json.dumps(env, sort_keys=True): environment_bytes(env)
            for env in [self.model.environment]
            + [c.container.environment for c in self.candidates if c.container and c.container.environment]
        }
        if sum(environments.values()) > ENVIRONMENT_MAX_TOTAL_BYTES:
            raise ValueError(
                f"@candidates: the containers' environments come to {sum(environments.values())} bytes "
                f"together; a run carries at most {ENVIRONMENT_MAX_TOTAL_BYTES} (32 KB) of them "
                "(Step Functions' payload limit): move large settings into the model artifact"
            )
        return self

    def image_findings(self) -> list[Finding]:
        """The offline verdicts on every candidate's image (`hardware.judge_image`): errors first."""
        findings = []
        for index, candidate in enumerate(self.candidates):
            image, source = self.image_source(index)
            if image is None:
                continue
            finding = judge_image(image, candidate.instance_type, f"candidates[{index}]", source)
            if finding is not None:
                findings.append(finding)
        return sorted(findings, key=lambda finding: finding.level != "error")

    def image_of(self, index: int) -> str | None:
        """Candidate `index`'s image: its container's, else `model.images[kind]`, else `model.image_uri`."""
        return self.image_source(index)[0]

    def image_source(self, index: int) -> tuple[str | None, str]:
        """Candidate `index`'s image and the JSON path it comes from."""
        candidate = self.candidates[index]
        if candidate.container is not None and candidate.container.image_uri:
            return candidate.container.image_uri, f"candidates[{index}].container.image_uri"
        kind = hardware_kind(candidate.instance_type)
        if kind in self.model.images:
            return self.model.images[kind], f"model.images.{kind}"
        return self.model.image_uri, "model.image_uri"


def parse_model(model: type[M], data: Any, *, prefix: str = "") -> M:
    """Validate `data` as `model`, turning a ValidationError into one InputError that names the field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise from_validation_error(error, prefix=prefix) from None


def load_json_file(path: Path) -> Any:
    """Read a JSON file, reporting a missing file or bad syntax with its line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"no such file: {path}", hint="check the path") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a JSON file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None
    return parse_json_text(text, source=str(path))


def parse_json_text(text: str, *, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{source} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}",
            hint="fix the JSON syntax",
        ) from None


__all__ = [
    "PERCENTILES",
    "QUANTILES",
    "SIMULATED_HARDWARE",
    "Candidate",
    "EvaluationSpec",
    "LoadPlan",
    "ModelSpec",
    "PayloadSpec",
    "Percentile",
    "ServerlessConfig",
    "Slo",
    "parse_model",
]
