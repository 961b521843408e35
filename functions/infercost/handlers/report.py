"""Report: render the run's HTML report into the artifacts bucket."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from infercost.data import clients as aws
from infercost.handlers._shared import get_settings, parse_event, powertools, results_store
from infercost.steps import common, report

logger, tracer, metrics = powertools()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(common.RunEvent, event)
    summary = report.report_run(
        request.run, store=results_store(), s3=aws.client("s3"), settings=get_settings()
    )
    return summary.model_dump(mode="json")
