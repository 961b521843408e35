"""Notify: finish a successful run, then send its message to SNS (and Slack when configured)."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from infercost.data import clients as aws
from infercost.handlers._shared import get_settings, parse_event, powertools, results_store
from infercost.steps import notify

# The Slack webhook goes out through http.client: trace it too.
logger, tracer, metrics = powertools(traces_http_client=True)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from infercost.data.notifications import report_s3_client

    request = parse_event(notify.NotifyEvent, event)
    settings = get_settings()
    summary = notify.notify(
        request,
        store=results_store(),
        sns=aws.client("sns"),
        secretsmanager=aws.client("secretsmanager") if settings.slack_secret_arn else None,
        report_s3=report_s3_client(settings.region, endpoint_url=os.environ.get("AWS_ENDPOINT_URL")),
        settings=settings,
    )
    return summary.model_dump(mode="json")
