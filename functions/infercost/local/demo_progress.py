"""Following a demo run: each candidate's state and the run's phase, read from the stack."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from infercost.domain.models import EvaluationSpec, LoadPlan

if TYPE_CHECKING:
    from infercost.domain.records import RunView
    from infercost.local.stack import EmbeddedStack


CandidateState = Literal[
    "waiting",
    "creating endpoint",
    "in service",
    "loading",
    "collecting metrics",
    "tearing down",
    "torn down",
    "endpoint failed",
    "failed",
    "skipped",
]


def planned_requests(load: LoadPlan) -> int:
    """Requests a candidate's load test sends at most: warm-up, measured run, each sweep level
    (and each sweep worker's own warm-up when the sweep fans out)."""
    from infercost.domain.workflow import load_workers
    from infercost.measurement.sweep import sweep_share

    workers = load_workers(load)
    sweep = sum(step.requests for index in range(workers) for step in sweep_share(load, workers, index))
    fan_out_warmup = math.ceil(load.warmup / workers) * workers if workers > 1 and sweep else 0
    return load.warmup + load.requests + sweep + fan_out_warmup


@dataclass(frozen=True)
class CandidateProgress:
    """Where one candidate is in its life, as the demo's view shows it."""

    index: int
    label: str
    state: CandidateState
    answered: int = 0
    planned: int = 0
    detail: str = ""


@dataclass(frozen=True)
class DemoProgress:
    """One look at the run: the execution, its phase and every candidate."""

    elapsed_s: float
    run_id: str | None
    status: str
    phase: str
    candidates: list[CandidateProgress]
    started_by: str = ""


@dataclass
class ProgressTracker:
    """Builds `DemoProgress` from the stack: execution, candidate items, endpoints, requests answered."""

    stack: EmbeddedStack
    spec: EvaluationSpec
    started_by: str = ""
    answered: dict[int, int] = field(default_factory=dict)

    def look(self, execution_arn: str, run_id: str, elapsed_s: float) -> DemoProgress:
        status = self.stack.client("stepfunctions").describe_execution(executionArn=execution_arn)["status"]
        view = self.stack.store.get_run(run_id)
        endpoints = {
            item["EndpointName"]: item["EndpointStatus"]
            for item in self.stack.client("sagemaker").list_endpoints()["Endpoints"]
        }
        activity = self.stack.endpoint_activity()
        records = {record.index: record for record in view.candidates} if view else {}
        planned = planned_requests(self.spec.load)
        candidates = []
        for index, candidate in enumerate(self.spec.candidates):
            record = records.get(index)
            name = record.endpoint_name if record else None
            if name is not None and name in activity:
                self.answered[index] = activity[name]
            answered = self.answered.get(index, 0)
            state, detail = _candidate_state(
                record, endpoints.get(name or ""), answered, self.spec.slo.percentile
            )
            candidates.append(
                CandidateProgress(
                    index=index,
                    label=candidate.label,
                    state=state,
                    answered=answered,
                    planned=planned,
                    detail=detail,
                )
            )
        return DemoProgress(
            elapsed_s=elapsed_s,
            run_id=run_id,
            status=status,
            phase=_phase(status, view, len(self.spec.candidates)),
            candidates=candidates,
            started_by=self.started_by,
        )


def _candidate_state(
    record: Any, endpoint_status: str | None, answered: int, percentile: str
) -> tuple[CandidateState, str]:
    if record is None:
        return "waiting", ""
    if record.status == "COMPLETED":
        result = record.parsed_result()
        value = result.latency_ms.at(percentile) if result else None
        return "torn down", (f"{percentile.upper()} {value:.1f} ms" if value is not None else "")
    if record.status in ("FAILED", "SKIPPED"):
        return ("failed" if record.status == "FAILED" else "skipped"), record.error or ""
    if record.result is not None:
        return "tearing down", ""
    if record.client_latency_ms is not None:
        return "collecting metrics", ""
    if endpoint_status == "Failed":
        return "endpoint failed", ""
    if answered or record.status == "RUNNING":
        return "loading", ""
    if endpoint_status == "InService":
        return "in service", ""
    if endpoint_status is not None:
        return "creating endpoint", ""
    return "waiting", ""


def _phase(status: str, view: RunView | None, candidates: int) -> str:
    if status != "RUNNING":
        return status
    # Prepare writes the candidate items one by one.
    if view is None or len(view.candidates) < candidates:
        return "preparing"
    finished = sum(1 for record in view.candidates if record.is_terminal)
    if finished < candidates:
        return f"benchmarking candidates ({finished} of {candidates} finished)"
    if view.run.recommendation is None:
        return "recommending"
    if view.run.report_key is None:
        return "writing the report"
    return "notifying"
