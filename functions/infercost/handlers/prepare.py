"""Prepare: read and validate the spec beside the artifact, price it, quota-check it, record the run."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from infercost.data import clients as aws
from infercost.handlers._shared import get_settings, parse_event, powertools, price_book, results_store
from infercost.steps import prepare

logger, tracer, metrics = powertools()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(prepare.PrepareEvent, event)
    evaluation = prepare.prepare(
        request,
        settings=get_settings(),
        s3=aws.client("s3"),
        sagemaker=aws.client("sagemaker"),
        servicequotas=aws.client("service-quotas"),
        store=results_store(),
        prices=price_book,
        cloudwatch=aws.client("cloudwatch"),
    )
    if not evaluation.accepted:
        logger.warning("spec refused", extra={"run_id": evaluation.run.run_id, "error": evaluation.error})
    return evaluation.model_dump(mode="json")
