"""Notify: finish a successful run, then tell the team (SNS, and Slack when configured)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from infercost.data.notifications import (
    DEFAULT_SLACK_TIMEOUT_S,
    post_slack,
    presign_report,
    slack_webhook_from_secret,
)
from infercost.data.store import ResultsStore
from infercost.domain.records import RunView
from infercost.domain.workflow import RunRef
from infercost.steps.common import StepEvent, StepSummary, run_key, run_view, utc_now

if TYPE_CHECKING:  # the messages are composed where they are sent (cold start of the handler)
    from infercost.data.settings import Settings
    from infercost.report.inputs import RegressionLike, ReportInput
    from infercost.report.messages import ReportLinks


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


class NotifyResult(BaseModel):
    """What went out: the SNS message id, and whether Slack got its message (and why not)."""

    kind: str
    sns_message_id: str | None = None
    slack_delivered: bool = False
    slack_error: str | None = None


def notify_run(
    run: RunView | ReportInput,
    *,
    sns_client: Any,
    topic_arn: str,
    slack_webhook_url: str | None,
    links: ReportLinks | None,
    regressions: Iterable[RegressionLike | Mapping[str, Any]] | None = None,
    slack_timeout_s: float = DEFAULT_SLACK_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> NotifyResult:
    """Publish the run's message to SNS, then post it to Slack when a webhook is configured."""
    from infercost.report.messages import as_report, build_slack_payload, build_sns_message

    report = as_report(run, regressions)
    message = build_sns_message(report, links=links)
    response = sns_client.publish(
        TopicArn=topic_arn,
        Subject=message.subject,
        Message=message.body,
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": message.kind},
            "model": {"DataType": "String", "StringValue": report.model},
        },
    )
    result = NotifyResult(kind=message.kind, sns_message_id=response.get("MessageId"))
    if not slack_webhook_url:
        return result
    payload = build_slack_payload(report, links=links)
    error = post_slack(slack_webhook_url, payload, timeout_s=slack_timeout_s, sleep=sleep)
    return result.model_copy(update={"slack_delivered": error is None, "slack_error": error})


def report_links(
    *,
    run_id: str,
    bucket: str,
    key: str,
    region: str,
    table: str,
    s3_client: Any | None,
    in_aws_account: bool = True,
) -> ReportLinks:
    """The ways to the report: console and command (in an AWS account), download (with a client)."""
    from infercost.report.messages import ReportLinks, report_command, report_console_url

    return ReportLinks(
        console_url=report_console_url(region, bucket, key) if in_aws_account else None,
        command=report_command(run_id, table=table, region=region) if in_aws_account else None,
        download_url=presign_report(s3_client, bucket, key) if s3_client is not None else None,
    )
