"""What a report shows, gathered from a stored run or a results file: the ranking, failures, the
sweep, what the benchmark cost, regressions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, Field

from infercost.domain import costing
from infercost.domain.models import SIMULATED_HARDWARE, Candidate, Slo
from infercost.domain.results import LatencyStats, RankedCandidate, Recommendation, ResultsFile

if TYPE_CHECKING:
    from infercost.domain.records import Artifact, CandidateRecord, RunView


Verdict = Literal["recommended", "none_meets_slo", "failed"]


LOG_TAIL_LINES = 40


_LOG_TAIL_CHARS = 6000


class RegressionLike(Protocol):
    """What the report needs of a regression (`infercost.domain.regression.Regression` fits)."""

    @property
    def kind(self) -> str: ...

    @property
    def message(self) -> str: ...


class RegressionNote(BaseModel):
    """One regression against the previous successful run, as a sentence with its numbers."""

    kind: str
    message: str


class FailedCandidate(BaseModel):
    """A candidate without a measurement: failed, skipped, or never finished."""

    label: str
    status: str
    error: str
    failure_reason: str | None = None
    log_tail: str | None = None


class SweepPoint(BaseModel):
    """One concurrency level of a sweep: throughput, SLO-percentile latency, and its cost."""

    concurrency: int
    rps: float
    slo_latency_ms: float | None = None
    errors: int = 0
    cost_per_100k_usd: float | None = None


class CandidateSweep(BaseModel):
    """A candidate's concurrency sweep, level by level."""

    label: str
    rank: int | None = None
    meets_slo: bool = False
    max_rps_at_slo: float | None = None
    points: list[SweepPoint]


class UnrankedCandidate(BaseModel):
    """A measured candidate of a run that ended before the recommendation: its latency only."""

    label: str
    latency_ms: LatencyStats
    invocations: int | None = None
    errors: int = 0


class BenchmarkLine(BaseModel):
    label: str
    status: str
    endpoint_seconds: float | None = None
    cost_usd: float | None = None


class BenchmarkCost(BaseModel):
    """What measuring cost: endpoint-seconds × price, in total and per candidate."""

    total_usd: float | None = None
    endpoint_seconds: float | None = None
    lines: list[BenchmarkLine] = Field(default_factory=list)


class ReportInput(BaseModel):
    """Everything the report (and the notification) shows, from a results file or a stored run."""

    model: str
    region: str | None = None
    slo: Slo | None = None
    status: str = "SUCCEEDED"
    run_id: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    artifact: str | None = None
    error: str | None = None
    recommendation: Recommendation | None = None
    failures: list[FailedCandidate] = Field(default_factory=list)
    unranked: list[UnrankedCandidate] = Field(default_factory=list)
    sweeps: list[CandidateSweep] = Field(default_factory=list)
    benchmark: BenchmarkCost | None = None
    regressions: list[RegressionNote] = Field(default_factory=list)
    simulated_note: str | None = None
    source: Literal["results file", "run"] = "results file"

    @classmethod
    def from_results(
        cls,
        results: ResultsFile,
        recommendation: Recommendation,
        *,
        regressions: Iterable[RegressionLike | Mapping[str, Any]] = (),
        simulated_note: str | None = None,
    ) -> ReportInput:
        """A report of a results file and the recommendation computed from it."""
        return cls(
            model=recommendation.model,
            region=recommendation.region or results.region,
            slo=recommendation.slo,
            recommendation=recommendation,
            failures=[
                FailedCandidate(label=failure.candidate.label, status=failure.status, error=failure.error)
                for failure in recommendation.failures
            ],
            regressions=_regression_notes(regressions),
            simulated_note=simulated_note,
            source="results file",
        )

    @classmethod
    def from_run(
        cls,
        run_view: RunView,
        regressions: Iterable[RegressionLike | Mapping[str, Any]] | None = None,
        *,
        simulated_note: str | None = None,
    ) -> ReportInput:
        """A report of a stored run; `regressions` default to those recorded on the run.

        The run counts as simulated when `simulated_note` is given or the stored spec carries
        `"simulated"` (true, or the sentence to show) — the demo sets it.
        """
        run = run_view.run
        recommendation = run.parsed_recommendation()
        ranked = {item.label: item for item in recommendation.ranked} if recommendation else {}
        slo = recommendation.slo if recommendation else run.slo
        candidates = sorted(run_view.candidates, key=lambda record: record.index)
        failures = [
            _failed_candidate(record)
            for record in candidates
            if record.status != "COMPLETED" or (recommendation and record.candidate.label not in ranked)
        ]
        sweeps = [
            sweep
            for record in candidates
            if (sweep := _candidate_sweep(record, ranked.get(record.candidate.label), slo)) is not None
        ]
        unranked = [
            UnrankedCandidate(
                label=record.candidate.label,
                latency_ms=result.latency_ms,
                invocations=result.invocations,
                errors=result.errors,
            )
            for record in candidates
            if recommendation is None
            and record.status == "COMPLETED"
            and (result := record.parsed_result()) is not None
        ]
        chosen = regressions if regressions is not None else (run.regressions or [])
        return cls(
            model=run.model,
            region=run.region,
            slo=slo,
            status=run.status,
            run_id=run.run_id,
            started_at=run.started_at,
            finished_at=run.finished_at,
            artifact=_artifact_text(run.artifact),
            error=run.error,
            recommendation=recommendation,
            failures=failures,
            unranked=unranked,
            sweeps=sweeps,
            benchmark=_benchmark_cost(run.benchmark_cost_usd, run.endpoint_seconds, candidates),
            regressions=_regression_notes(chosen),
            simulated_note=simulated_note or _simulated_from_spec(run.spec),
            source="run",
        )

    @property
    def verdict(self) -> Verdict:
        """recommended, none_meets_slo, or failed (the run failed or produced no recommendation)."""
        if self.status == "FAILED" or self.recommendation is None:
            return "failed"
        return "recommended" if self.recommendation.recommended is not None else "none_meets_slo"

    @property
    def headline(self) -> str:
        """The verdict in a few words: 'use ml.g5.xlarge', 'no candidate meets P90 ≤ 80 ms'."""
        rec = self.recommendation
        if self.verdict == "failed":
            return "run failed" if self.status == "FAILED" else "no recommendation"
        assert rec is not None
        if rec.recommended is not None:
            return f"use {rec.recommended.label}"
        return f"no candidate meets {rec.slo.describe()}"


def _regression_notes(items: Iterable[RegressionLike | Mapping[str, Any]]) -> list[RegressionNote]:
    notes = []
    for item in items:
        if isinstance(item, Mapping):
            notes.append(RegressionNote(kind=str(item.get("kind", "")), message=str(item.get("message", ""))))
        else:
            notes.append(RegressionNote(kind=item.kind, message=item.message))
    return notes


def _artifact_text(artifact: Artifact | None) -> str | None:
    if artifact is None:
        return None
    version = artifact.version_id or artifact.etag
    return f"s3://{artifact.bucket}/{artifact.key}" + (f" (version {version})" if version else "")


def _simulated_from_spec(spec: Mapping[str, Any] | None) -> str | None:
    flag = (spec or {}).get("simulated")
    if isinstance(flag, str) and flag.strip():
        return flag.strip()
    return SIMULATED_HARDWARE if flag is True else None


def _log_tail_text(log_tail: list[str] | None) -> str | None:
    if not log_tail:
        return None
    return "\n".join(log_tail[-LOG_TAIL_LINES:])[-_LOG_TAIL_CHARS:]


def _failed_candidate(record: CandidateRecord) -> FailedCandidate:
    status = record.status
    if status in ("PENDING", "RUNNING"):
        error = record.error or "did not finish: the run ended before this candidate was measured"
    elif status == "COMPLETED":
        error = record.error or "measured, but not in the recommendation"
    else:
        error = record.error or "no reason recorded"
    return FailedCandidate(
        label=record.candidate.label,
        status=status,
        error=error,
        failure_reason=record.failure_reason,
        log_tail=_log_tail_text(record.log_tail),
    )


def _candidate_sweep(
    record: CandidateRecord, ranked: RankedCandidate | None, slo: Slo | None
) -> CandidateSweep | None:
    """Sweep points of a stored candidate, with the cost of each level; None without a sweep."""
    levels = [level for level in (record.sweep or []) if isinstance(level, Mapping)]
    if not levels:
        return None
    points = [
        point for level in levels if (point := _sweep_point(level, record.candidate, ranked, slo)) is not None
    ]
    if ranked is not None and all(point.concurrency != 1 for point in points) and ranked.latency_ms.avg > 0:
        # The measured serial run is the sweep's first level: one request in flight.
        points.append(
            SweepPoint(
                concurrency=1,
                rps=costing.serial_capacity_rps(ranked.latency_ms.avg),
                slo_latency_ms=ranked.slo_latency_ms,
                cost_per_100k_usd=ranked.cost_per_100k_usd,
            )
        )
    if not points:
        return None
    points.sort(key=lambda point: point.concurrency)
    return CandidateSweep(
        label=record.candidate.label,
        rank=ranked.rank if ranked else None,
        meets_slo=ranked.meets_slo if ranked else False,
        max_rps_at_slo=ranked.max_rps_at_slo if ranked else None,
        points=points,
    )


def _sweep_point(
    level: Mapping[str, Any], candidate: Candidate, ranked: RankedCandidate | None, slo: Slo | None
) -> SweepPoint | None:
    try:
        concurrency = int(level["concurrency"])
        rps = float(level.get("rps") or 0.0)
    except (KeyError, TypeError, ValueError):
        return None
    latency = level.get("latency_ms") or {}
    slo_latency = latency.get(slo.percentile) if slo and isinstance(latency, Mapping) else None
    errors_by_kind = level.get("errors_by_kind") or {}
    errors = (
        sum(int(count) for count in errors_by_kind.values()) if isinstance(errors_by_kind, Mapping) else 0
    )
    cost = None
    if ranked is not None and ranked.price_per_hour_usd is not None and rps > 0:
        cost = costing.cost_per_100k_at_throughput(ranked.price_per_hour_usd, rps, candidate.instance_count)
    return SweepPoint(
        concurrency=concurrency,
        rps=rps,
        slo_latency_ms=float(slo_latency) if slo_latency is not None else None,
        errors=errors,
        cost_per_100k_usd=cost,
    )


def _benchmark_cost(
    total_usd: float | None, endpoint_seconds: float | None, candidates: Sequence[CandidateRecord]
) -> BenchmarkCost | None:
    lines = [
        BenchmarkLine(
            label=record.candidate.label,
            status=record.status,
            endpoint_seconds=record.endpoint_seconds,
            cost_usd=record.benchmark_cost_usd,
        )
        for record in candidates
    ]
    known = [line for line in lines if line.cost_usd is not None or line.endpoint_seconds is not None]
    if total_usd is None and endpoint_seconds is None and not known:
        return None
    if total_usd is None and known and all(line.cost_usd is not None for line in lines):
        total_usd = sum(line.cost_usd or 0.0 for line in lines)
    return BenchmarkCost(total_usd=total_usd, endpoint_seconds=endpoint_seconds, lines=lines)
