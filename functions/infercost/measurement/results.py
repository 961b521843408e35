"""What a load test measures: levels, results, raw counts, the SLO verdict per level, and the
results document (docs/method.md, section 2)."""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from infercost.domain.errors import InfercostError
from infercost.domain.llm import TokenAccumulator, TokenLevel, merge_token_levels
from infercost.domain.models import Candidate, Slo
from infercost.domain.results import RESULTS_SCHEMA, CandidateResult, LatencyStats, ResultsFile
from infercost.domain.sketch import RELATIVE_ACCURACY, LatencySketch

if TYPE_CHECKING:
    from infercost.measurement.eventstream import StreamedResponse


ErrorKind = Literal["http_4xx", "http_5xx", "throttled", "timeout", "connection", "stream", "other"]


Phase = Literal["warmup", "measured", "sweep"]


# Serial phases give up when this many first requests all failed: the target is not answering.
FAIL_FAST_AFTER = 5


MAX_ERROR_EXAMPLE = 200

# A level's client was saturated (client_bound) when its event-loop thread was on CPU for at
# least this share of the level's wall time, or its 50 ms watchdog timer fired this late on
# average; levels shorter than CLIENT_JUDGED_AFTER_S are too short to judge (docs/method.md §2).
CLIENT_BUSY_SHARE = 0.9
CLIENT_LAG_MS = 25.0
CLIENT_JUDGED_AFTER_S = 0.2

# Streamed responses kept whole per level (the rest keep only their time to first byte).
MAX_KEPT_STREAMS = 1000


class LoadTestError(InfercostError):
    """The target could not be load-tested at all (unreachable, every request failed)."""


class LevelResult(BaseModel):
    """What one concurrency level measured. `latency_ms` covers successful requests only."""

    model_config = ConfigDict(frozen=True)

    concurrency: int = Field(ge=1)
    requests: int = Field(ge=0, description="requests completed (ok + errors)")
    ok: int = Field(ge=0)
    errors_by_kind: dict[str, int] = Field(default_factory=dict)
    error_examples: dict[str, str] = Field(default_factory=dict, description="first message per kind")
    latency_ms: LatencyStats | None = Field(description="from successes only; None when none succeeded")
    rps: float = Field(ge=0, description="successful responses per second")
    duration_s: float = Field(ge=0)
    sketch: str = Field(description="serialized mergeable latency sketch (infercost.domain.sketch)")
    first_byte_ms: LatencyStats | None = Field(
        default=None, description="time to the first payload part of streamed responses"
    )
    first_byte_sketch: str | None = None
    client_cpu_share: float | None = Field(
        default=None, ge=0, le=1, description="share of the level the client's event loop was on CPU"
    )
    client_lag_ms: float | None = Field(
        default=None, ge=0, description="how late the client's event loop ran its timers, on average"
    )
    client_bound: bool = Field(
        default=False,
        description="the client was saturated: this level measured the load generator, not the model",
    )
    llm: TokenLevel | None = Field(default=None, description="token measurements of streamed generations")

    @property
    def errors(self) -> int:
        return sum(self.errors_by_kind.values())

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def latency_at(self, percentile: str) -> float | None:
        if self.latency_ms is None:
            return None
        value: float | None = getattr(self.latency_ms, percentile)
        return value

    def describe_client(self) -> str:
        """'client CPU 97 %, event-loop lag 14.2 ms' (what made the level client-bound)."""
        parts = []
        if self.client_cpu_share is not None:
            parts.append(f"client CPU {self.client_cpu_share:.0%}")
        if self.client_lag_ms is not None:
            parts.append(f"event-loop lag {self.client_lag_ms:.1f} ms")
        return ", ".join(parts)

    def describe_errors(self) -> str:
        """'3 errors of 100 (http_5xx 2, timeout 1)' or '' when there were none."""
        if not self.errors:
            return ""
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(self.errors_by_kind.items()))
        return f"{self.errors} error{'s' if self.errors > 1 else ''} of {self.requests} ({kinds})"


class LoadTestResult(BaseModel):
    """A whole load test; small enough for Step Functions state (a few KB)."""

    model_config = ConfigDict(frozen=True)

    started_at: float = Field(description="epoch seconds: start of the measured serial run")
    ended_at: float = Field(description="epoch seconds: end of the measured serial run")
    measured: LevelResult
    sweep: list[LevelResult] = Field(default_factory=list)
    max_rps_at_slo: float | None = None
    slo: Slo | None = None
    partial: bool = False
    client_bound: bool = Field(default=False, description="some level measured a saturated client")
    notes: list[str] = Field(default_factory=list)
    sketch_relative_accuracy: float = RELATIVE_ACCURACY
    first_request_ms: float | None = Field(default=None, description="the endpoint's first request")

    @property
    def latency_ms(self) -> LatencyStats:
        """Latency of the measured serial run (always present: a run without successes raises)."""
        assert self.measured.latency_ms is not None
        return self.measured.latency_ms

    @property
    def levels(self) -> list[LevelResult]:
        return [self.measured, *self.sweep]


@dataclass(frozen=True)
class LoadProgress:
    """Progress of the running phase, reported a few times a second."""

    phase: Phase
    concurrency: int
    done: int
    total: int
    elapsed_s: float


@dataclass
class RawLevel:
    """What a transport returns for one level: raw latencies (ms) and errors by kind."""

    concurrency: int
    latencies_ms: array = field(default_factory=lambda: array("d"))
    first_byte_ms: array = field(default_factory=lambda: array("d"))
    streams: list[StreamedResponse] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    duration_s: float = 0.0
    abandoned: int = 0
    aborted: str | None = None
    client_cpu_share: float | None = None
    client_lag_ms: float | None = None
    # An LLM workload's per-request token metrics (infercost.measurement.llm).
    tokens: TokenAccumulator | None = None

    def streamed(self, response: StreamedResponse) -> None:
        self.first_byte_ms.append(response.first_byte_ms)
        tokens = getattr(response, "tokens", None)
        if self.tokens is not None and tokens is not None:
            self.tokens.add(tokens)
        elif len(self.streams) < MAX_KEPT_STREAMS:
            self.streams.append(response)

    @property
    def client_bound(self) -> bool:
        if self.duration_s < CLIENT_JUDGED_AFTER_S:
            return False
        return (self.client_cpu_share or 0.0) >= CLIENT_BUSY_SHARE or (
            self.client_lag_ms or 0.0
        ) >= CLIENT_LAG_MS

    def error(self, kind: str, message: str) -> None:
        self.errors[kind] += 1
        if kind not in self.examples:
            self.examples[kind] = message[:MAX_ERROR_EXAMPLE]

    @property
    def completed(self) -> int:
        return len(self.latencies_ms) + sum(self.errors.values())

    def merged_with(self, other: RawLevel) -> RawLevel:
        """Two workers' shares of one level, run at the same time."""
        merged = RawLevel(self.concurrency + other.concurrency)
        merged.latencies_ms = self.latencies_ms + other.latencies_ms
        merged.first_byte_ms = self.first_byte_ms + other.first_byte_ms
        merged.streams = (self.streams + other.streams)[:MAX_KEPT_STREAMS]
        merged.client_cpu_share = _most(self.client_cpu_share, other.client_cpu_share)
        merged.client_lag_ms = _most(self.client_lag_ms, other.client_lag_ms)
        merged.errors = self.errors + other.errors
        merged.examples = {**other.examples, **self.examples}
        merged.duration_s = max(self.duration_s, other.duration_s)
        merged.abandoned = self.abandoned + other.abandoned
        merged.aborted = self.aborted or other.aborted
        if self.tokens is not None and other.tokens is not None:
            merged.tokens = self.tokens.merged_with(other.tokens)
        else:
            merged.tokens = self.tokens or other.tokens
        return merged

    def to_level(self) -> LevelResult:
        sketch = LatencySketch(self.latencies_ms)
        first_byte = LatencySketch(self.first_byte_ms) if self.first_byte_ms else None
        ok = len(self.latencies_ms)
        return LevelResult(
            concurrency=self.concurrency,
            requests=self.completed,
            ok=ok,
            errors_by_kind=dict(self.errors),
            error_examples=dict(self.examples),
            latency_ms=sketch.stats(),
            rps=ok / self.duration_s if self.duration_s > 0 else 0.0,
            duration_s=self.duration_s,
            sketch=sketch.to_text(),
            first_byte_ms=first_byte.stats() if first_byte else None,
            first_byte_sketch=first_byte.to_text() if first_byte else None,
            client_cpu_share=self.client_cpu_share,
            client_lag_ms=self.client_lag_ms,
            client_bound=self.client_bound,
            llm=self.tokens.result(self.duration_s) if self.tokens is not None else None,
        )


def _most(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def merge_level_results(results: Sequence[LevelResult]) -> LevelResult:
    """Merge one level run by parallel workers: counts add, sketches merge exactly, rates add."""
    if not results:
        raise ValueError("nothing to merge")
    sketch = LatencySketch()
    first_byte: LatencySketch | None = None
    errors: Counter[str] = Counter()
    examples: dict[str, str] = {}
    cpu: float | None = None
    lag: float | None = None
    for result in results:
        sketch.merge(LatencySketch.from_text(result.sketch))
        if result.first_byte_sketch is not None:
            first_byte = first_byte or LatencySketch()
            first_byte.merge(LatencySketch.from_text(result.first_byte_sketch))
        cpu = _most(cpu, result.client_cpu_share)
        lag = _most(lag, result.client_lag_ms)
        errors.update(result.errors_by_kind)
        for kind, text in result.error_examples.items():
            examples.setdefault(kind, text)
    return LevelResult(
        concurrency=sum(r.concurrency for r in results),
        requests=sum(r.requests for r in results),
        ok=sum(r.ok for r in results),
        errors_by_kind=dict(errors),
        error_examples=examples,
        latency_ms=sketch.stats(),
        rps=sum(r.rps for r in results),
        duration_s=max(r.duration_s for r in results),
        sketch=sketch.to_text(),
        first_byte_ms=first_byte.stats() if first_byte else None,
        first_byte_sketch=first_byte.to_text() if first_byte else None,
        client_cpu_share=cpu,
        client_lag_ms=lag,
        client_bound=any(r.client_bound for r in results),
        llm=merge_token_levels([r.llm for r in results if r.llm]) if any(r.llm for r in results) else None,
    )


ProgressTick = Callable[[int], None]


def slo_breach(level: LevelResult, slo: Slo) -> str | None:
    """Why `level` misses the SLO, or None when it meets it."""
    value = level.latency_at(slo.percentile)
    if value is None:
        return f"no successful request at concurrency {level.concurrency}"
    if value > slo.max_latency_ms:
        return (
            f"{slo.percentile} {value:.1f} ms > {slo.max_latency_ms:g} ms at concurrency {level.concurrency}"
        )
    if level.llm is not None:
        return level.llm.breach(level.latency_ms, level.concurrency)
    return None


def max_rps_at_slo(levels: Sequence[LevelResult], slo: Slo | None, *, max_error_rate: float) -> float | None:
    """The highest throughput among levels that meet the SLO and the error budget."""
    if slo is None:
        return None
    passing = [
        level.rps for level in levels if slo_breach(level, slo) is None and level.error_rate <= max_error_rate
    ]
    return max(passing) if passing else None


def results_document(result: LoadTestResult, *, model: str, candidate: Candidate) -> dict[str, Any]:
    """The load test as an `infercost.results/v1` file (client-side latency), plus the detail.

    `infercost recommend` reads it; the `loadtest` key keeps every level, note and sketch.
    """
    entry = CandidateResult(
        candidate=candidate,
        latency_ms=result.latency_ms,
        max_rps_at_slo=result.max_rps_at_slo,
        invocations=result.measured.requests,
        errors=result.measured.errors,
        source="client",
        confidence=LatencySketch.from_text(result.measured.sketch).confidence(),
    )
    document = ResultsFile(schema_=RESULTS_SCHEMA, model=model, slo=result.slo, results=[entry]).to_json()
    document["loadtest"] = result.model_dump(mode="json")
    return document
