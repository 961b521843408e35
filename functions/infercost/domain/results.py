"""What a run produces and what `infercost recommend` reads and writes: results, rankings, the answer.

Field names here are an interface (docs/architecture.md): the workflow, the CLI, the report and
other tools rely on them.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer

from infercost.domain.models import (
    DEFERRED,
    PERCENTILES,
    Candidate,
    Percentile,
    Slo,
)
from infercost.domain.price_basis import PriceBasis, PriceSource, is_estimate
from infercost.domain.traffic import Objective, TrafficProfile

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
    max_rps_at_slo: float | None = None
    latency_ms: LatencyStats
    slo_latency_ms: float
    meets_slo: bool
    slo_verdict: str
    pareto_optimal: bool
    monthly: MonthlyProjection | None = None
    errors: int = 0
    warnings: list[str] = Field(default_factory=list)
    image_uri: str | None = Field(default=None, description="the container image it ran")


class Recommendation(BaseModel):
    """The answer: the cheapest candidate that meets the SLO (or none, with the reason) and the ranking."""

    model_config = DEFERRED

    model: str
    region: str
    slo: Slo
    recommended: RankedCandidate | None
    reason: str
    ranking_basis: Literal["serial"] = "serial"
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
