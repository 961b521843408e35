"""What a run produces and what `infercost recommend` reads and writes: results, rankings, the answer.

Field names here are an interface (docs/architecture.md): the workflow, the CLI, the report and
other tools rely on them.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from infercost.domain.autoscaling import ScalingPolicy
from infercost.domain.confidence import DEFAULT_LEVEL, Interval, SloStatus
from infercost.domain.models import (
    DEFERRED,
    PERCENTILES,
    Candidate,
    Percentile,
    Slo,
)
from infercost.domain.price_basis import PriceBasis, PriceSource, is_estimate
from infercost.domain.traffic import Objective, ServingSpec, TrafficProfile

RESULTS_SCHEMA = "infercost.results/v1"


class _Lenient(BaseModel):
    """Results files may come from other tools: unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class LatencyStats(_Lenient):
    """Latency in milliseconds; `avg` is required, percentiles as available."""

    avg: float = Field(ge=0)
    p50: float | None = Field(default=None, ge=0)
    p90: float | None = Field(default=None, ge=0)
    p95: float | None = Field(default=None, ge=0)
    p99: float | None = Field(default=None, ge=0)
    max: float | None = Field(default=None, ge=0)

    def at(self, percentile: Percentile) -> float | None:
        value: float | None = getattr(self, percentile)
        return value

    @model_serializer(mode="wrap")
    def _compact(self, handler: Any) -> dict[str, Any]:
        return {key: value for key, value in handler(self).items() if value is not None}

    def out_of_order(self) -> str | None:
        """Describe percentiles that decrease (p50 > p90 ...), which suggests a transcription error."""
        present = [(name, self.at(name)) for name in PERCENTILES if self.at(name) is not None]
        for (low_name, low), (high_name, high) in itertools.pairwise(present):
            if low is not None and high is not None and low > high:
                return f"{low_name} ({low:g} ms) is above {high_name} ({high:g} ms)"
        return None


class LlmStats(_Lenient):
    """A streaming (LLM) candidate's token measurements (docs/method.md, "LLM endpoints").

    Latencies in ms, each from a mergeable sketch of per-request values: `ttft_ms` time to first
    token, `itl_ms` inter-token latency per request ((end to end − TTFT) ÷ (output tokens − 1)).
    End-to-end latency is the result's `latency_ms`. Token counts come from `tokenizer`, never
    from chunks. `output_tokens_per_s` is output-token goodput (requests that met every SLO) at
    `concurrency`, the highest level that met them; it prices the candidate per 1M tokens.
    """

    ttft_ms: LatencyStats
    itl_ms: LatencyStats
    output_tokens_per_s: float = Field(ge=0)
    input_tokens_per_s: float | None = Field(default=None, ge=0)
    input_tokens: int = Field(default=0, ge=0, description="tokens sent, over every measured request")
    output_tokens: int = Field(default=0, ge=0, description="tokens received, over every measured request")
    requests: int = Field(default=0, ge=0)
    concurrency: int | None = Field(default=None, ge=1)
    goodput_rps: float | None = Field(default=None, ge=0)
    tokenizer: str | None = Field(default=None, description="whitespace, bytes, or a tokenizer.json key")

    @model_serializer(mode="wrap")
    def _compact(self, handler: Any) -> dict[str, Any]:
        return {key: value for key, value in handler(self).items() if value is not None}


class LatencyConfidence(_Lenient):
    """How sure the latency figures are (docs/method.md §8): distribution-free intervals.

    `intervals_ms` holds, per percentile, the values at the order-statistic ranks of the exact
    binomial method; a side is None when `samples` is too few to bound it. `mean_ms` is Student's t
    interval of the average. `method` says where the values were read (the client's sketch, or
    CloudWatch at the bound ranks).
    """

    level: float = Field(default=DEFAULT_LEVEL, gt=0, lt=1)
    samples: int = Field(ge=1)
    intervals_ms: dict[str, Interval] = Field(default_factory=dict)
    mean_ms: tuple[float, float] | None = None
    std_ms: float | None = Field(default=None, ge=0, description="the samples' standard deviation")
    method: str

    @model_serializer(mode="wrap")
    def _compact(self, handler: Any) -> dict[str, Any]:
        return {key: value for key, value in handler(self).items() if value is not None}


class CandidateResult(_Lenient):
    """One measured candidate in a results file."""

    candidate: Candidate
    price_per_hour_usd: float | None = Field(default=None, ge=0)
    # Where price_per_hour_usd came from, when a run priced it (snapshot, live, override).
    price_source: PriceSource | None = None
    # How far it can be trusted (infercost.domain.prices); absent from files written before it.
    price_basis: PriceBasis | None = None
    image_uri: str | None = Field(default=None, description="the container image the candidate ran")
    latency_ms: LatencyStats
    max_rps_at_slo: float | None = Field(default=None, ge=0)
    invocations: int | None = Field(default=None, ge=0)
    errors: int = Field(default=0, ge=0)
    source: Literal["client", "cloudwatch"] | None = None
    llm: LlmStats | None = Field(default=None, description="token measurements of a streaming workload")
    first_request_ms: float | None = Field(
        default=None, ge=0, description="the first request to the new endpoint (a serverless cold start)"
    )
    # Absent from results that carry only summary percentiles (a typed-in table): the SLO is then
    # judged on the point estimate.
    confidence: LatencyConfidence | None = None
    imported_from: str | None = Field(
        default=None,
        description="the tool (and version) that measured an imported result, e.g. 'aiperf 0.5.0'",
    )

    @model_serializer(mode="wrap")
    def _compact(self, handler: Any) -> dict[str, Any]:
        return {key: value for key, value in handler(self).items() if value is not None}

    @property
    def error_rate(self) -> float:
        """Failed share of all requests; `invocations` counts every request, failed ones included."""
        attempts = max(self.invocations or 0, self.errors)
        return self.errors / attempts if attempts else 0.0


CandidateStatus = Literal["COMPLETED", "FAILED", "SKIPPED"]


class CandidateFailure(_Lenient):
    """A candidate that produced no measurement, and why."""

    candidate: Candidate
    status: Literal["FAILED", "SKIPPED"]
    error: str


class ResultsFile(_Lenient):
    """`infercost.results/v1`: what a run produces and what `infercost recommend` reads."""

    schema_: Literal["infercost.results/v1"] = Field(alias="schema")
    model: str = Field(min_length=1)
    region: str | None = None
    slo: Slo | None = None
    results: list[CandidateResult]
    failures: list[CandidateFailure] = Field(default_factory=list)
    traffic: TrafficProfile | None = None
    objective: Objective | None = None
    serving: ServingSpec | None = None

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)

    @field_validator("schema_", mode="before")
    @classmethod
    def _schema(cls, value: Any) -> Any:
        if value != RESULTS_SCHEMA:
            raise ValueError(f"must be {RESULTS_SCHEMA!r}, got {value!r}")
        return value

    @field_validator("results")
    @classmethod
    def _some_results(cls, value: list[CandidateResult]) -> list[CandidateResult]:
        if not value:
            raise ValueError("no results: a results file needs at least one measured candidate")
        return value

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class MonthlyProjection(BaseModel):
    """Cost of serving the traffic profile for one month (730 hours) on this candidate."""

    model_config = DEFERRED

    instances_needed: int | None
    # None when no instance count serves the peak within the SLO (no cost to state).
    monthly_cost_usd: float | None
    capacity_rps_per_instance: float | None
    basis: Literal["max_rps_at_slo", "serial_latency", "serverless"]
    meets_peak: bool
    note: str | None = None


ServingMode = Literal["realtime", "serverless", "serverless-provisioned", "async", "batch", "multi-model"]


class SavingsPlanOption(BaseModel):
    """The month under one Savings Plan: commit to `committed_instances`, the rest on demand."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    term_years: int
    payment: str
    usd_per_hour: float
    committed_instances: int
    monthly_cost_usd: float
    saving_usd: float
    # A committed instance-hour saves money when the instance runs more than this share of the time.
    break_even_utilisation: float
    source: str
    as_of: str | None = None
    estimate: bool = False


class ServingOption(BaseModel):
    """One way to serve the traffic with one candidate, and its month."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    mode: ServingMode
    monthly_cost_usd: float | None
    meets_slo: bool = Field(description="serves the traffic within the SLO (async/batch: no latency SLO)")
    instance_hours: float | None = None
    hours_at_risk: float | None = None
    policy: ScalingPolicy | None = None
    capacity_rps_per_instance: float | None = None
    capacity_basis: Literal["max_rps_at_slo", "serial_latency"] | None = None
    cold_start_share: float | None = None
    provisioned_concurrency: int | None = None
    queue_delay_s: float | None = None
    job_hours: float | None = None
    copies_per_instance: int | None = None
    cost_per_model_usd: float | None = None
    savings_plans: list[SavingsPlanOption] = Field(default_factory=list)
    # Hours a month at each billed instance count (what a Savings Plan commitment is sized on).
    hours_by_instances: dict[int, float] = Field(default_factory=dict, exclude=True)
    estimate: bool = Field(default=False, description="rests on an assumed figure (said in notes)")
    notes: list[str] = Field(default_factory=list)

    @property
    def best_plan(self) -> SavingsPlanOption | None:
        return min(self.savings_plans, key=lambda plan: plan.monthly_cost_usd, default=None)


class RankedCandidate(BaseModel):
    """One candidate in a recommendation, with its costs and SLO verdict."""

    model_config = DEFERRED

    rank: int
    candidate: Candidate
    label: str
    price_per_hour_usd: float | None
    price_source: str
    # live, published, corroborated, derived (an estimate), override or results; None when a
    # stored result predates the field. Serverless candidates carry their rates' basis.
    price_basis: PriceBasis | None = None
    cost_per_100k_usd: float
    cost_per_100k_at_throughput_usd: float | None = None
    # Streaming (LLM) candidates: price per hour ÷ 3600 ÷ tokens/s × 1,000,000.
    cost_per_1m_output_tokens_usd: float | None = None
    cost_per_1m_input_tokens_usd: float | None = None
    # The token figures behind them (time to first token, inter-token latency, goodput).
    llm: LlmStats | None = None
    # A month of the traffic profile's output tokens at that goodput (docs/method.md §9).
    monthly_token_cost_usd: float | None = None
    max_rps_at_slo: float | None = None
    latency_ms: LatencyStats
    slo_latency_ms: float
    # "meets" only when the SLO percentile's interval is at or under the bound (docs/method.md §8);
    # meets_slo is True exactly then. Without an interval the point estimate decides.
    slo_status: SloStatus
    slo_interval_ms: Interval | None = None
    meets_slo: bool
    slo_verdict: str
    pareto_optimal: bool
    monthly: MonthlyProjection | None = None
    errors: int = 0
    warnings: list[str] = Field(default_factory=list)
    image_uri: str | None = Field(default=None, description="the container image it ran")
    # With a traffic profile: every way to serve it with this candidate, cheapest first, and the
    # cheapest that serves it within the SLO (docs/method.md §7).
    serving_options: list[ServingOption] = Field(default_factory=list)
    serving_choice: ServingOption | None = None
    confidence: LatencyConfidence | None = None

    @model_validator(mode="before")
    @classmethod
    def _status_of_stored(cls, data: Any) -> Any:
        # Recommendations stored before the interval rule judged on the point estimate alone.
        if isinstance(data, dict) and "slo_status" not in data and "meets_slo" in data:
            return {**data, "slo_status": "meets" if data["meets_slo"] else "misses"}
        return data


class Recommendation(BaseModel):
    """The answer: the cheapest candidate that meets the SLO (or none, with the reason) and the ranking."""

    model_config = DEFERRED

    model: str
    region: str
    slo: Slo
    recommended: RankedCandidate | None
    reason: str
    # What `recommended` minimises (docs/method.md §7); ranking_basis names the same order.
    objective: Objective = "per-inference"
    # output_tokens: cost per 1M output tokens, when every candidate streamed (docs/method.md §9).
    ranking_basis: Literal["serial", "throughput", "monthly", "output_tokens"] = "serial"
    # The winner under each objective that could be computed, by objective name.
    winners: dict[str, str | None] = Field(default_factory=dict)
    # How to serve it: the recommended candidate's chosen serving option (with a traffic profile).
    serving: ServingOption | None = None
    ranked: list[RankedCandidate]
    recommended_at_throughput: RankedCandidate | None = None
    throughput_ranking: list[str] | None = None
    failures: list[CandidateFailure] = Field(default_factory=list)
    traffic: TrafficProfile | None = None
    warnings: list[str] = Field(default_factory=list)
    # The snapshot's date, when some price came from the snapshot.
    prices_as_of: str | None = None
    # Said when live prices were asked for and the snapshot answered instead (and why).
    price_note: str | None = None

    @property
    def estimated_prices(self) -> list[RankedCandidate]:
        """Candidates whose price is an estimate (derived), which every output marks."""
        return [item for item in self.ranked if is_estimate(item.price_basis)]

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
