"""LoadWorker: one worker's share of a concurrency sweep too big for one Lambda (a Map of these)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from infercost.data import clients as aws
from infercost.handlers._shared import get_settings, parse_event, powertools
from infercost.steps import common, load

logger, tracer, metrics = powertools()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = parse_event(load.LoadWorkerEvent, event)
    ref = load.load_worker(
        state,
        s3=aws.client("s3"),
        settings=get_settings(),
        time_budget_s=common.time_budget_s(context, common.load_margin_s(state.benchmark.load)),
    )
    return ref.model_dump(mode="json")
