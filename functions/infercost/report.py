"""The HTML report: one self-contained file the team opens first after a run.

Everything is embedded — charts as PNG data URIs, CSS inline, no fonts or scripts from a
network — so the file opens the same from S3, a laptop or an email attachment. The numbers
come from a `Recommendation` (the ranked table uses the CLI's own columns) plus what only a
stored run knows: per-level sweep results, failure reasons, log tails and benchmark cost.

matplotlib is imported inside the rendering function: importing this module stays cheap
for Lambda cold starts and for the notifier, which shares `ReportInput`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, Field

from infercost.charts import monthly_rows, render_charts
from infercost.domain import costing
from infercost.domain.formatting import duration, millis, money, usd
from infercost.domain.models import (
    Candidate,
    LatencyStats,
    MonthlyProjection,
    Percentile,
    RankedCandidate,
    Recommendation,
    ResultsFile,
    Slo,
)
from infercost.tables import Column, html_table, ranking_columns

if TYPE_CHECKING:
    from infercost.domain.records import Artifact, CandidateRecord, RunView

Verdict = Literal["recommended", "none_meets_slo", "failed"]

SIMULATED_NOTE = (
    "Hardware differences between candidates are simulated: this run used local model servers "
    "with declared speed profiles (infercost demo), not SageMaker instances. The method and the "
    "cost arithmetic are real; the latencies are not those of the named instance types."
)
_LOG_TAIL_LINES = 40
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
    return SIMULATED_NOTE if flag is True else None


def _log_tail_text(log_tail: list[str] | None) -> str | None:
    if not log_tail:
        return None
    return "\n".join(log_tail[-_LOG_TAIL_LINES:])[-_LOG_TAIL_CHARS:]


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


# --------------------------------------------------------------------------------------------
# Rendering


def render_report(report: ReportInput) -> str:
    """The report as one self-contained HTML document."""
    charts = render_charts(report)
    sections = [
        _section_verdict(report),
        _section_regressions(report),
        _section_ranking(report),
        _section_chart(
            "cost-latency",
            "Cost and latency",
            charts.get("cost_latency"),
            "Each point is a candidate (its number is its rank). Left of the SLO line meets the "
            "objective; the dashed line joins the Pareto front — candidates no other beats on both "
            "cost and latency.",
        ),
        _section_chart(
            "latency",
            "Latency percentiles per candidate",
            charts.get("latency"),
            "From p50 to the slowest percentile measured; the filled marker is the SLO percentile, the "
            "bar the average.",
        ),
        _section_throughput(report, charts.get("throughput")),
        _section_monthly(report, charts.get("monthly")),
        _section_failures(report),
        _section_benchmark(report),
        _section_method(report),
    ]
    title = f"infercost — {report.model}: {report.headline}"
    meta = _meta_line(report)
    banner = ""
    if report.simulated_note:
        banner = (
            '<section id="simulated" class="banner">'
            f"<strong>Simulated hardware.</strong> {html.escape(report.simulated_note)}</section>"
        )
    body = "\n".join(part for part in sections if part)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f'<body><main><header><p class="kicker">infercost report</p>'
        f'<h1>{html.escape(report.model)}</h1><p class="meta">{meta}</p></header>'
        f"{banner}\n{body}\n"
        f"<footer>Generated by infercost at {_now_text()}.</footer></main></body></html>\n"
    )


def render_run_report(
    run_view: RunView,
    *,
    regressions: Iterable[RegressionLike | Mapping[str, Any]] | None = None,
    simulated_note: str | None = None,
) -> str:
    """The HTML report of a stored run (what the Report state writes to S3)."""
    return render_report(ReportInput.from_run(run_view, regressions, simulated_note=simulated_note))


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _meta_line(report: ReportInput) -> str:
    parts = []
    if report.run_id:
        parts.append(f"run <code>{html.escape(report.run_id)}</code>")
    if report.source == "results file":
        parts.append("from a results file")
    elif report.status == "RUNNING" and report.recommendation is not None:
        # The Report state runs before Notify marks the run SUCCEEDED.
        parts.append("recommendation ready")
    else:
        parts.append(html.escape(report.status))
    if report.region:
        parts.append(html.escape(report.region))
    if report.slo:
        parts.append("SLO " + html.escape(report.slo.describe()))
    if report.started_at:
        parts.append(html.escape(_run_window(report.started_at, report.finished_at)))
    if report.artifact:
        parts.append(f"<code>{html.escape(report.artifact)}</code>")
    return " · ".join(parts)


def _run_window(started_at: str, finished_at: str | None) -> str:
    """'2026-11-20 10:00 UTC, 41 min' from the run's ISO timestamps (the raw text if unparsable)."""
    try:
        start = datetime.fromisoformat(started_at)
        end = datetime.fromisoformat(finished_at) if finished_at else None
    except ValueError:
        return started_at + (f" → {finished_at}" if finished_at else "")
    text = start.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if end is not None:
        text += f", {duration((end - start).total_seconds())}"
    return text


def _tile(label: str, value: str, note: str = "") -> str:
    note_html = f'<span class="note">{html.escape(note)}</span>' if note else ""
    return f'<div class="tile"><span class="label">{html.escape(label)}</span><span class="value">{html.escape(value)}</span>{note_html}</div>'


def _section_verdict(report: ReportInput) -> str:
    rec = report.recommendation
    verdict = report.verdict
    if verdict == "failed":
        reason = report.error or "the run ended without a recommendation"
        body = f'<p class="reason">{html.escape(reason)}</p>'
        heading = "The run failed" if report.status == "FAILED" else "No recommendation"
        return f'<section id="recommendation" class="verdict failed"><h2>{heading}</h2>{body}</section>'
    assert rec is not None
    if rec.recommended is None:
        return (
            '<section id="recommendation" class="verdict none">'
            f"<h2>No candidate meets {html.escape(rec.slo.describe())}</h2>"
            f'<p class="reason">{html.escape(rec.reason)}</p></section>'
        )
    winner = rec.recommended
    percentile = rec.slo.percentile.upper()
    tiles = [
        _tile("cost per 100k inferences", usd(winner.cost_per_100k_usd), "one request in flight"),
        _tile(f"{percentile} latency", f"{winner.slo_latency_ms:,.1f} ms", f"SLO {rec.slo.describe()}"),
        _tile(
            "price",
            "per use" if winner.price_per_hour_usd is None else f"{usd(winner.price_per_hour_usd)}/h",
            winner.price_source,
        ),
    ]
    if winner.max_rps_at_slo is not None:
        tiles.append(
            _tile(
                "max RPS at SLO",
                f"{winner.max_rps_at_slo:,.1f}",
                f"{usd(winner.cost_per_100k_at_throughput_usd)} per 100k at that rate",
            )
        )
    if winner.monthly is not None and rec.traffic is not None:
        shape = (
            f"{winner.monthly.instances_needed} instance{'s' if winner.monthly.instances_needed != 1 else ''}"
            if winner.monthly.instances_needed is not None
            else "serverless"
        )
        tiles.append(_tile("per month", usd(winner.monthly.monthly_cost_usd), shape))
    return (
        '<section id="recommendation" class="verdict ok">'
        f'<h2>Recommended: <span class="winner">{html.escape(winner.label)}</span></h2>'
        f'<div class="tiles">{"".join(tiles)}</div>'
        f'<p class="reason">{html.escape(rec.reason)}</p></section>'
    )


def _section_regressions(report: ReportInput) -> str:
    if not report.regressions:
        return ""
    items = "".join(
        f'<li><span class="tag">{html.escape(note.kind.replace("_", " "))}</span> {html.escape(note.message)}</li>'
        for note in report.regressions
    )
    return (
        '<section id="regressions" class="regressions"><h2>Regressions since the previous run</h2>'
        f"<ul>{items}</ul></section>"
    )


def _section_ranking(report: ReportInput) -> str:
    rec = report.recommendation
    if rec is None:
        measured = ""
        if report.unranked:
            columns: list[Column[UnrankedCandidate]] = [
                Column("Candidate", lambda item: item.label),
                *[
                    Column(f"{name} ms", _latency_cell(name), "right")
                    for name in ("p50", "p90", "p95", "p99", "max")
                ],
                Column("avg ms", lambda item: millis(item.latency_ms.avg), "right"),
                Column("Errors", lambda item: str(item.errors), "right"),
            ]
            measured = (
                '<p class="caption">Measured before the run ended (latency only, not costed):</p>'
                f'<div class="scroll">{html_table(columns, report.unranked, css_class="plain unranked")}</div>'
            )
        return (
            '<section id="ranking"><h2>Ranking</h2><p class="empty">No ranking: the run ended before '
            f"candidates were costed.</p>{measured}</section>"
        )
    table = html_table(ranking_columns(rec), rec.ranked, css_class="ranking")
    basis = (
        f"Ranked by cost per 100k inferences with one request in flight "
        f"(hourly price ÷ 3600 × average latency × 100,000). SLO: {rec.slo.describe()}."
    )
    notes = ""
    if rec.warnings:
        items = "".join(f"<li>{html.escape(warning)}</li>" for warning in rec.warnings)
        notes = f'<ul class="notes">{items}</ul>'
    return (
        f'<section id="ranking"><h2>All candidates, cheapest first</h2>'
        f'<p class="caption">{html.escape(basis)}</p><div class="scroll">{table}</div>{notes}</section>'
    )


def _latency_cell(name: Percentile) -> Callable[[UnrankedCandidate], str]:
    return lambda item: millis(item.latency_ms.at(name))


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _section_chart(section_id: str, title: str, uri: str | None, caption: str) -> str:
    if uri is None:
        return ""
    return (
        f'<section id="{section_id}"><h2>{html.escape(title)}</h2>'
        f'<p class="caption">{html.escape(caption)}</p><figure>{_img(uri, title)}</figure></section>'
    )


def _section_throughput(report: ReportInput, uri: str | None) -> str:
    if uri is None:
        return ""
    if report.sweeps:
        caption = (
            "Concurrency sweep: the SLO-percentile latency and the cost per 100k inferences at each "
            "level's throughput (hourly price ÷ (3600 × requests per second) × 100,000). A level counts "
            "toward max RPS at SLO only while the latency stays within the SLO."
        )
    else:
        caption = (
            "Highest throughput each candidate sustained within the SLO, from the concurrency sweep, "
            "and the cost per 100k inferences at that rate."
        )
    return (
        '<section id="throughput"><h2>Throughput at the SLO</h2>'
        f'<p class="caption">{html.escape(caption)}</p><figure>{_img(uri, "Throughput at the SLO")}</figure></section>'
    )


def _section_monthly(report: ReportInput, uri: str | None) -> str:
    rec = report.recommendation
    if rec is None or rec.traffic is None:
        return ""
    projected = [item for item in rec.ranked if item.monthly is not None]
    if not projected:
        return ""
    traffic = rec.traffic
    caption = (
        f"Projected for {traffic.requests_per_month:,} requests a month with a peak of "
        f"{traffic.peak_rps:g} requests per second, 730 hours. Instances: enough for the peak, from "
        "the throughput within the SLO where swept, else from the serial latency; serverless: per "
        "request. Green meets the SLO and serves the peak, amber meets the SLO but not the peak, grey "
        "misses the SLO."
    )
    rows = monthly_rows(rec)
    unservable = [item for item in projected if item not in rows]
    columns: list[Column[RankedCandidate]] = [
        Column("#", lambda item: str(item.rank), "right"),
        Column("Candidate", lambda item: item.label),
        Column("$/month", lambda item: money(_monthly(item).monthly_cost_usd), "right"),
        Column("Instances", lambda item: _count(_monthly(item).instances_needed), "right"),
        Column("RPS per instance", lambda item: _rate(_monthly(item).capacity_rps_per_instance), "right"),
        Column("Capacity from", lambda item: _BASIS[_monthly(item).basis]),
        Column("Serves peak", lambda item: "yes" if _monthly(item).meets_peak else "no"),
        Column("SLO", lambda item: "meets" if item.meets_slo else "misses"),
        Column("Note", lambda item: _monthly(item).note or ""),
    ]
    figure = f"<figure>{_img(uri, 'Monthly cost of serving the traffic profile')}</figure>" if uri else ""
    table = f'<div class="scroll">{html_table(columns, rows, css_class="plain")}</div>' if rows else ""
    missing = ""
    if unservable:
        names = ", ".join(item.label for item in unservable)
        missing = (
            f'<p class="caption">Not projected — no load level stayed within the SLO, so no number of '
            f"instances serves the peak: {html.escape(names)}.</p>"
        )
    return (
        f'<section id="monthly"><h2>Monthly cost for the traffic profile</h2>'
        f'<p class="caption">{html.escape(caption)}</p>{figure}{table}{missing}</section>'
    )


_BASIS = {
    "max_rps_at_slo": "sweep (max RPS at SLO)",
    "serial_latency": "serial latency",
    "serverless": "serverless",
}


def _monthly(item: RankedCandidate) -> MonthlyProjection:
    assert item.monthly is not None
    return item.monthly


def _count(value: int | None) -> str:
    return "—" if value is None else str(value)


def _rate(value: float | None) -> str:
    return "—" if value is None or math.isinf(value) else f"{value:,.1f}"


def _section_failures(report: ReportInput) -> str:
    title = "<h2>Failed and skipped candidates</h2>"
    if not report.failures:
        return f'<section id="failures">{title}<p class="empty">None: every candidate was measured.</p></section>'
    columns: list[Column[FailedCandidate]] = [
        Column("Candidate", lambda failure: failure.label),
        Column("Status", lambda failure: failure.status),
        Column("Error", lambda failure: failure.error),
        Column("FailureReason (SageMaker)", lambda failure: failure.failure_reason or "—"),
    ]
    logs = "".join(
        f"<details open><summary>{html.escape(failure.label)}: container log, last lines</summary>"
        f"<pre>{html.escape(failure.log_tail)}</pre></details>"
        for failure in report.failures
        if failure.log_tail
    )
    return (
        f'<section id="failures">{title}'
        '<p class="caption">These produced no measurement and are not ranked. SageMaker\'s failure '
        "reason and the container's last log lines are shown where the run recorded them.</p>"
        f'<div class="scroll">{html_table(columns, report.failures, css_class="plain failures")}</div>'
        f"{logs}</section>"
    )


def _section_benchmark(report: ReportInput) -> str:
    title = "<h2>What the benchmark cost</h2>"
    bench = report.benchmark
    if bench is None:
        why = (
            "Not recorded: this report was made from a results file, which does not carry endpoint time."
            if report.source == "results file"
            else "Not recorded for this run."
        )
        return f'<section id="benchmark-cost">{title}<p class="empty">{why}</p></section>'
    summary = f"Measuring these candidates cost <strong>{html.escape(usd(bench.total_usd))}</strong>"
    if bench.endpoint_seconds is not None:
        summary += f" for {html.escape(duration(bench.endpoint_seconds))} of endpoint time"
    summary += ", each endpoint billed from its creation until it was deleted."
    costly = sorted(
        (line for line in bench.lines if line.cost_usd), key=lambda line: -(line.cost_usd or 0.0)
    )[:3]
    if costly:
        summary += (
            " The largest shares: "
            + ", ".join(f"{html.escape(line.label)} {html.escape(usd(line.cost_usd))}" for line in costly)
            + "."
        )
    columns: list[Column[BenchmarkLine]] = [
        Column("Candidate", lambda line: line.label),
        Column("Status", lambda line: line.status),
        Column("Endpoint time", lambda line: duration(line.endpoint_seconds), "right"),
        Column("Cost", lambda line: usd(line.cost_usd), "right"),
    ]
    table = ""
    if bench.lines:
        table = (
            f"<details><summary>Per candidate ({len(bench.lines)})</summary>"
            f'<div class="scroll">{html_table(columns, bench.lines, css_class="plain compact")}</div></details>'
        )
    return f'<section id="benchmark-cost">{title}<p>{summary}</p>{table}</section>'


def _section_method(report: ReportInput) -> str:
    rec = report.recommendation
    notes = [
        "Cost per 100k inferences = hourly price ÷ 3600 × average latency in seconds × 100,000 "
        "(one request in flight, the published SageMaker benchmark method).",
        "Cost at sustained throughput = hourly price × instances ÷ (3600 × max requests per second "
        "within the SLO) × 100,000.",
        "Latency is the server-side ModelLatency from CloudWatch where the source says cloudwatch, "
        "else the client-side latency.",
    ]
    if rec is not None and rec.prices_as_of:
        notes.append(f"Prices from the bundled snapshot as of {rec.prices_as_of}.")
    items = "".join(f"<li>{html.escape(note)}</li>" for note in notes)
    return (
        f'<section id="method" class="method"><h2>How these numbers were made</h2><ul>{items}</ul></section>'
    )


_CSS = """
:root{--ink:#1f2329;--muted:#5d646e;--line:#e2e5e9;--bg:#fafbfc;--ok:#2e7d32;--bad:#b23b3b;--warn:#a86f00;--accent:#1f5fa8}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"DejaVu Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:28px 32px 48px}
header{margin-bottom:18px}
.kicker{margin:0;color:var(--muted);text-transform:uppercase;letter-spacing:.08em;font-size:12px}
h1{margin:2px 0 4px;font-size:28px}
h2{font-size:19px;margin:0 0 10px}
.meta{margin:0;color:var(--muted);font-size:13px}
code{font:12.5px/1.4 "DejaVu Sans Mono",Menlo,Consolas,monospace;background:#eef0f3;padding:1px 4px;border-radius:3px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:18px 22px;margin:16px 0}
.banner{background:#fff8e6;border-color:#f0d9a0}
.warnings{background:#fff8e6;border-color:#f0d9a0;padding:10px 22px}
.warnings ul{margin:0;padding-left:18px}
.verdict{border-left:6px solid var(--ok)}
.verdict.none{border-left-color:var(--warn)}
.verdict.failed{border-left-color:var(--bad)}
.verdict h2{font-size:22px}
.winner{color:var(--ok)}
.tiles{display:flex;flex-wrap:wrap;gap:12px;margin:10px 0 12px}
.tile{flex:1 1 160px;border:1px solid var(--line);border-radius:6px;padding:10px 12px;background:var(--bg)}
.tile .label{display:block;color:var(--muted);font-size:12px}
.tile .value{display:block;font-size:21px;font-weight:600}
.tile .note{display:block;color:var(--muted);font-size:12px}
.reason{margin:6px 0 0;max-width:100ch}
.aside{color:var(--muted)}
.regressions{border-left:6px solid var(--bad)}
.regressions ul{margin:0;padding-left:18px}
.tag{display:inline-block;font-size:11px;text-transform:uppercase;letter-spacing:.05em;background:#fbe9e9;color:var(--bad);border-radius:3px;padding:0 6px;margin-right:6px}
.caption{color:var(--muted);font-size:13px;margin:0 0 10px;max-width:110ch}
.empty{color:var(--muted)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f3f5f7;font-weight:600;white-space:nowrap}
td.right,th.right{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.center,th.center{text-align:center}
td.left,th.left{text-align:left}
table.ranking td:nth-last-child(2),table.plain td{white-space:nowrap}
table.plain td:last-child,table.failures td{white-space:normal}
table.compact{width:auto;min-width:60%}
.status{font-size:11px;font-weight:600;border-radius:3px;padding:1px 6px;background:#eef0f3}
.status.failed{background:#fbe9e9;color:var(--bad)}
.status.skipped{background:#fff3d6;color:var(--warn)}
details{margin-top:4px}
summary{cursor:pointer;color:var(--accent);font-size:12px}
pre{font:11.5px/1.35 "DejaVu Sans Mono",Menlo,Consolas,monospace;background:#f5f6f8;border:1px solid var(--line);padding:8px;max-height:260px;overflow:auto;white-space:pre-wrap}
figure{margin:0}
figure img{width:100%;height:auto;display:block}
ul.notes{margin:10px 0 0;padding-left:18px;color:var(--warn);font-size:13px}
.method ul{margin:0;padding-left:18px;color:var(--muted);font-size:13px}
footer{color:var(--muted);font-size:12px;margin-top:20px}
"""
