"""Notify: finish a successful run, then tell the team (SNS, and Slack when configured)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from infercost.data.settings import Settings
from infercost.data.store import ResultsStore
from infercost.domain.workflow import (
    RunRef,
)

if TYPE_CHECKING:  # loadgen is imported where it is used (cold start of the other steps)
    pass
from infercost.steps.common import StepEvent, StepSummary, run_key, run_view, utc_now


class NotifyEvent(StepEvent):
    run: RunRef
    outcome: Literal["SUCCEEDED", "FAILED"]


class NotifySummary(StepSummary):
    sns_message_id: str | None
    slack_delivered: bool | None


def notify(
    event: NotifyEvent,
    *,
    store: ResultsStore,
    sns: Any,
    secretsmanager: Any | None,
    report_s3: Any | None,
    settings: Settings,
    now: Callable[[], datetime] = utc_now,
) -> NotifySummary:
    """Finish a successful run, then tell the team (SNS, and Slack when configured)."""
    from infercost.notify import notify_run, report_links, slack_webhook_from_secret

    key = run_key(event.run)
    if event.outcome == "SUCCEEDED":
        finished = now()
        started = datetime.fromisoformat(event.run.started_at.replace("Z", "+00:00"))
        store.finish_run(
            key,
            status="SUCCEEDED",
            finished_at=finished,
            timings={"total_seconds": round((finished - started).total_seconds(), 3)},
        )
    view = run_view(store, event.run)
    links = None
    if view.run.report_key:
        links = report_links(
            run_id=event.run.run_id,
            bucket=settings.artifacts_bucket,
            key=view.run.report_key,
            region=settings.region,
            table=settings.table_name,
            s3_client=report_s3,
            # Only the local stack sets the note: its bucket and table are in no AWS account.
            in_aws_account=settings.simulated_note is None,
        )
    webhook = None
    if settings.slack_secret_arn and secretsmanager is not None:
        webhook = slack_webhook_from_secret(secretsmanager, settings.slack_secret_arn)
    result = notify_run(
        view,
        sns_client=sns,
        topic_arn=settings.topic_arn,
        slack_webhook_url=webhook,
        links=links,
        regressions=view.run.regressions or [],
    )
    return NotifySummary(
        sns_message_id=result.sns_message_id,
        slack_delivered=result.slack_delivered if webhook else None,
    )
