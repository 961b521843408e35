"""Report: render a run's HTML report into the artifacts bucket."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infercost.data import artifacts
from infercost.data.store import ResultsStore
from infercost.domain.workflow import (
    RunRef,
)

if TYPE_CHECKING:
    from infercost.data.settings import (
        Settings,  # loadgen is imported where it is used (cold start of the other steps)
    )

    pass
from infercost.steps.common import StepSummary, run_key, run_view


class ReportSummary(StepSummary):
    report_key: str


def report_run(run: RunRef, *, store: ResultsStore, s3: Any, settings: Settings) -> ReportSummary:
    """Render the run's HTML report into the artifacts bucket and record where it is."""
    from infercost.report.html import render_run_report

    view = run_view(store, run)
    html = render_run_report(view, regressions=view.run.regressions or [])
    key = artifacts.report_key(settings.reports_prefix, run.model, run.run_id)
    artifacts.put_report(s3, settings.artifacts_bucket, key, html)
    store.update_run(run_key(run), report_key=key)
    return ReportSummary(report_key=key)
