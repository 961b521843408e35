"""CollectMetrics: read the endpoint's latency from CloudWatch, polling until it settles."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from infercost.data import clients as aws
from infercost.handlers._shared import parse_event, powertools, results_store
from infercost.steps import collect_metrics, common

logger, tracer, metrics = powertools()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = parse_event(common.CandidateState, event)
    summary = collect_metrics.collect_metrics(
        state,
        cloudwatch=aws.client("cloudwatch"),
        store=results_store(),
        time_budget_s=common.time_budget_s(context, common.RECORD_MARGIN_S),
    )
    return summary.model_dump(mode="json")
