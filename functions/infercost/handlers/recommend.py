"""Recommend: cost and rank the measured candidates, compare with the previous run, record both."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from infercost.handlers._shared import parse_event, powertools, price_book, results_store
from infercost.steps import common, recommend

logger, tracer, metrics = powertools()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(common.RunEvent, event)
    summary = recommend.recommend_run(request.run, store=results_store(), prices=price_book)
    return summary.model_dump(mode="json")
