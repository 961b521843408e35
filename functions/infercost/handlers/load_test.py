"""LoadTest: warm-up, the measured serial run and the concurrency sweep against one endpoint."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from infercost.data import clients as aws
from infercost.handlers._shared import get_settings, parse_event, powertools, results_store
from infercost.steps import common, load

logger, tracer, metrics = powertools()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = parse_event(common.CandidateState, event)
    summary = load.load_test(
        state,
        s3=aws.client("s3"),
        store=results_store(),
        time_budget_s=common.time_budget_s(context, common.load_margin_s(state.benchmark.load)),
        settings=get_settings(),
    )
    return summary.model_dump(mode="json")
