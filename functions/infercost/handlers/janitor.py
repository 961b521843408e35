"""Janitor: delete what infercost left behind.

Scheduled, it closes runs whose execution ended without recording (aborted, timed out), deletes
tagged endpoints (and their configs and models) whose run is no longer RUNNING or that outlived
the maximum age, and publishes `EndpointsOverMaxAge`. The state machine
also calls it with a run: `{"action": "sweep"}` after the Map, `{"action": "fail"}` on the
failure path (sweep the run, record it FAILED with the reason).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from infercost.data import clients as aws
from infercost.handlers._shared import get_settings, parse_event, powertools, results_store
from infercost.steps import janitor

logger, tracer, metrics = powertools()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    sagemaker = aws.client("sagemaker")
    action = event.get("action") if isinstance(event, dict) else None
    if action == "sweep":
        sweep = parse_event(janitor.SweepEvent, event)
        prefix = sweep.resource_prefix or settings.resource_prefix
        return janitor.sweep_run(sweep.run, prefix, sagemaker=sagemaker, store=results_store()).model_dump(
            mode="json"
        )
    if action == "fail":
        failed = parse_event(janitor.FailEvent, event)
        summary = janitor.record_failure(
            failed,
            failed.resource_prefix or settings.resource_prefix,
            sagemaker=sagemaker,
            store=results_store(),
            region=settings.region,
        )
        metrics.add_metric(name="RunsFailed", unit=MetricUnit.Count, value=1)
        logger.error("run failed", extra={"run_id": summary.run.run_id, "reason": summary.reason})
        return summary.model_dump(mode="json")
    result = janitor.janitor_sweep(
        settings.resource_prefix,
        sagemaker=sagemaker,
        stepfunctions=aws.client("stepfunctions"),
        store=results_store(),
        max_age=timedelta(minutes=settings.max_endpoint_age_minutes),
    )
    metrics.add_metric(name="EndpointsOverMaxAge", unit=MetricUnit.Count, value=result.endpoints_over_max_age)
    metrics.add_metric(
        name="EndpointsDeletedByJanitor", unit=MetricUnit.Count, value=result.endpoints_deleted
    )
    if result.runs_closed:
        metrics.add_metric(name="RunsClosedByJanitor", unit=MetricUnit.Count, value=len(result.runs_closed))
        logger.error("runs whose execution ended unrecorded were closed", extra={"runs": result.runs_closed})
    if result.waiting:
        logger.warning("endpoints still settling; deleted on a later pass", extra={"waiting": result.waiting})
    if result.failures:
        logger.error("janitor could not delete everything", extra={"failures": result.failures})
    return result.model_dump(mode="json")
