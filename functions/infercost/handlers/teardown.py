"""Teardown: delete the candidate's endpoint, config and model; record how it ended."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from infercost.data import clients as aws
from infercost.handlers._shared import parse_event, powertools, results_store
from infercost.steps import common, teardown

logger, tracer, metrics = powertools()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(teardown.TeardownEvent, event)
    summary = teardown.teardown(
        request.state,
        sagemaker=aws.client("sagemaker"),
        logs=aws.client("logs"),
        store=results_store(),
        time_budget_s=common.time_budget_s(context, common.RECORD_MARGIN_S),
    )
    if summary.status == "FAILED":
        metrics.add_metric(name="CandidatesFailed", unit=MetricUnit.Count, value=1)
        logger.warning(
            "candidate failed", extra={"endpoint": request.state.candidate.name, "error": summary.error}
        )
    return summary.model_dump(mode="json")
