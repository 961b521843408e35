"""What a demo run produced and left behind, and the files it writes (report, results)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from infercost.domain.models import Candidate, EvaluationSpec
from infercost.domain.results import LatencyStats, Recommendation

if TYPE_CHECKING:
    from infercost.domain.records import RunView
    from infercost.local.stack import EmbeddedStack


DemoStatus = Literal["SUCCEEDED", "FAILED"]


class CandidateOutcome(BaseModel):
    """One candidate as the demo reports it."""

    index: int
    candidate: dict[str, Any]
    label: str
    status: str
    error: str | None = None
    latency_ms: dict[str, float] | None = None
    latency_source: str | None = None
    cost_per_100k_usd: float | None = None
    # The hourly price and how far it can be trusted (derived = an estimate).
    price_per_hour_usd: float | None = None
    price_basis: str | None = None
    meets_slo: bool | None = None
    rank: int | None = None
    endpoint_name: str | None = None
    # LLM workloads (docs/method.md §9): token latencies, goodput and the price of a million tokens.
    ttft_ms: dict[str, float] | None = None
    itl_ms: dict[str, float] | None = None
    output_tokens_per_s: float | None = None
    cost_per_1m_output_tokens_usd: float | None = None


class DemoOutcome(BaseModel):
    """What the demo run produced and left behind (`--json` prints it)."""

    run_id: str
    status: DemoStatus
    execution_status: str
    execution_arn: str
    error: str | None = None
    model: str
    recommended: dict[str, Any] | None = None
    reason: str | None = None
    candidates: list[CandidateOutcome] = Field(default_factory=list)
    candidates_completed: int
    endpoints_left: int
    # What the scheduled janitor deleted after the run (an endpoint that was stuck in Creating).
    janitor_deleted: list[str] = Field(default_factory=list)
    # Everything still there after the run, by kind (endpoints, endpoint configs, models, model
    # servers), as listed; `leftovers` counts them all.
    left_running: dict[str, list[str]]
    leftovers: int
    dynamodb: dict[str, Any]
    report: str | None = None
    report_source: str | None = None
    results: str | None = None
    notifications: dict[str, Any]
    wall_seconds: float
    stack_start_seconds: float
    run_seconds: float
    endpoint_url: str | None = None
    fail_at: str | None = None
    simulated: str
    recommendation: Recommendation | None = Field(default=None, exclude=True)

    @property
    def nothing_left(self) -> bool:
        """No endpoint, endpoint config, model or model server is left (counted by listing)."""
        return not any(self.left_running.values())

    @property
    def exit_code(self) -> int:
        """0 when the run succeeded and nothing is left running, else 1."""
        return 0 if self.status == "SUCCEEDED" and self.nothing_left else 1

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def write_report(stack: EmbeddedStack, view: RunView | None, path: Path) -> tuple[Path | None, str | None]:
    """The run's report: the one the Report state wrote to S3, else rendered from the stored run."""
    if view is None:
        return None, None
    if view.run.report_key:
        body = stack.client("s3").get_object(Bucket=stack.bucket, Key=view.run.report_key)["Body"].read()
        path.write_bytes(body)
        return path, f"s3://{stack.bucket}/{view.run.report_key}"
    from infercost.report.html import render_run_report

    path.write_text(render_run_report(view), encoding="utf-8")
    return path, "rendered from the stored run (the workflow ended before its Report state)"


def write_results(view: RunView | None, path: Path) -> Path | None:
    """The run's measurements as an `infercost.results/v1` file (None when nothing was measured)."""
    from infercost.steps.common import NothingMeasured, results_of

    if view is None:
        return None
    try:
        results = results_of(view)
    except NothingMeasured:
        return None
    path.write_text(json.dumps(results.to_json(), indent=2) + "\n", encoding="utf-8")
    return path


def candidate_outcomes(
    view: RunView | None, spec: EvaluationSpec, recommendation: Recommendation | None
) -> list[CandidateOutcome]:
    ranked = {item.label: item for item in recommendation.ranked} if recommendation else {}
    records = {record.index: record for record in view.candidates} if view else {}
    outcomes = []
    for index, candidate in enumerate(spec.candidates):
        record = records.get(index)
        result = record.parsed_result() if record and record.status == "COMPLETED" else None
        item = ranked.get(candidate.label)
        latency = _rounded(result.latency_ms) if result is not None else None
        llm = result.llm if result is not None else None
        outcomes.append(
            CandidateOutcome(
                index=index,
                candidate=_candidate_json(candidate),
                label=candidate.label,
                status=record.status if record else "FAILED",
                error=(record.error if record else "never started"),
                latency_ms=latency,
                latency_source=result.source if result else None,
                cost_per_100k_usd=item.cost_per_100k_usd if item else None,
                price_per_hour_usd=item.price_per_hour_usd if item else None,
                price_basis=item.price_basis if item else None,
                meets_slo=item.meets_slo if item else None,
                rank=item.rank if item else None,
                endpoint_name=record.endpoint_name if record else None,
                ttft_ms=_rounded(llm.ttft_ms) if llm else None,
                itl_ms=_rounded(llm.itl_ms) if llm else None,
                output_tokens_per_s=round(llm.output_tokens_per_s, 3) if llm else None,
                cost_per_1m_output_tokens_usd=item.cost_per_1m_output_tokens_usd if item else None,
            )
        )
    return outcomes


def _rounded(stats: LatencyStats) -> dict[str, float]:
    return {
        name: round(value, 3)
        for name in ("p50", "p90", "p95", "p99", "avg", "max")
        if (value := getattr(stats, name)) is not None
    }


def _candidate_json(candidate: Candidate) -> dict[str, Any]:
    data: dict[str, Any] = candidate.model_dump(mode="json")
    return data


def count_items(stack: EmbeddedStack, run_id: str, execution_arn: str, model: str) -> dict[str, Any]:
    """Items this run wrote (run, candidates, trigger guard, model registry), counted by a scan."""
    from infercost.data.store import MODELS_PK, from_item
    from infercost.domain.records import model_pk

    kinds: dict[str, int] = {}
    total = 0
    pages = stack.client("dynamodb").get_paginator("scan").paginate(TableName=stack.table_name)
    for page in pages:
        for raw in page["Items"]:
            total += 1
            item = from_item(raw)
            ours = (
                item.get("run_id") == run_id
                or (item.get("item_type") == "trigger" and item.get("execution_arn") == execution_arn)
                or (item.get("PK") == MODELS_PK and item.get("SK") == model_pk(model))
            )
            if ours:
                kind = str(item.get("item_type", "other"))
                kinds[kind] = kinds.get(kind, 0) + 1
    return {"items": sum(kinds.values()), "items_by_kind": dict(sorted(kinds.items())), "table_items": total}
