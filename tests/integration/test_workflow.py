"""The real state machine (statemachine/evaluate.asl.json) with the real handlers, on moto.

Every run is started the way AWS starts it: an S3 upload, the EventBridge rule, StartExecution.
After every test, nothing may be left: no endpoint, endpoint config or model (listed through the
SageMaker API) and no local model server.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from infercost.local.stack import EmbeddedStack
from tests.integration.workflow_support import (
    QUICK_LOAD,
    SWEEP_LOAD,
    assert_nothing_left,
    describe,
    failed_events,
    run_of,
    spec,
)

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
C5 = {"instance_type": "ml.c5.large"}
C5X = {"instance_type": "ml.c5.xlarge"}
G5 = {"instance_type": "ml.g5.xlarge"}


@pytest.fixture(scope="module")
def shared() -> Iterator[EmbeddedStack]:
    quotas = {"ml.c5.large": 4, "ml.c5.xlarge": 4, "ml.g5.xlarge": 2}
    with EmbeddedStack(quotas=quotas, slack=True) as stack:
        yield stack
    assert stack.leaked_servers == []


@pytest.fixture
def stack(shared: EmbeddedStack) -> Iterator[EmbeddedStack]:
    shared.inject(None)
    yield shared
    shared.inject(None)
    assert_nothing_left(shared)


def evaluate(stack: EmbeddedStack, model: str, body: object, **kwargs: object) -> dict[str, object]:
    executions = stack.evaluate(f"models/{model}/model.tar.gz", spec=body, **kwargs)  # type: ignore[arg-type]
    assert len(executions) == 1
    return executions[0]


def notified_about(stack: EmbeddedStack, model: str) -> list[dict[str, object]]:
    return [n for n in stack.notifications() if model in str(n.get("Subject", ""))]


def test_three_candidates_end_to_end(stack: EmbeddedStack) -> None:
    slack_before = len(stack.slack_messages())
    execution = evaluate(stack, "three", spec("three", [C5, C5X, G5], load=SWEEP_LOAD, slo_ms=80))

    assert execution["status"] == "SUCCEEDED", failed_events(stack, execution["executionArn"])
    view = run_of(stack, "three")
    assert view.run.status == "SUCCEEDED"
    assert [c.status for c in view.candidates] == ["COMPLETED"] * 3
    for candidate in view.candidates:
        result = candidate.parsed_result()
        assert result is not None and result.source == "cloudwatch"
        assert result.latency_ms.p90 is not None
        # The interval is the server's: CloudWatch's ModelLatency at the bound ranks of its 40
        # samples (x(32) and x(40) for a P90), around its own P90.
        assert result.confidence is not None and "CloudWatch" in result.confidence.method
        assert result.confidence.samples == 40 and result.confidence.mean_ms is not None
        lo, hi = result.confidence.intervals_ms["p90"]
        assert lo is not None and hi is not None and lo <= result.latency_ms.p90 <= hi
        assert hi == pytest.approx(result.latency_ms.max or 0.0)
        assert candidate.endpoint_deleted_at is not None and candidate.benchmark_cost_usd is not None
    recommendation = view.run.parsed_recommendation()
    assert recommendation is not None and recommendation.recommended is not None
    # The simulated GPU answers fastest; it must be the only one or the cheapest passing one.
    passing = [item for item in recommendation.ranked if item.meets_slo]
    assert recommendation.recommended.label == passing[0].label
    # Met on the interval: its upper bound is within the SLO.
    assert all(item.slo_status == "meets" and item.slo_interval_ms is not None for item in passing)
    assert all((item.slo_interval_ms[1] or math.inf) <= 80 for item in passing if item.slo_interval_ms)
    # Prepare priced the candidates with the Price List API (served locally from the snapshot),
    # and the ranking says where each price came from.
    assert {item.price_source for item in recommendation.ranked if item.price_per_hour_usd} == {"live"}
    assert view.run.report_key
    html = stack.client("s3").get_object(Bucket=stack.bucket, Key=view.run.report_key)["Body"].read()
    assert b"<html" in html.lower() and b"ml.g5.xlarge" in html
    (message,) = notified_about(stack, "three")
    assert recommendation.recommended.label in str(message["Message"])
    assert len(stack.slack_messages()) == slack_before + 1
    assert_nothing_left(stack)


def test_endpoint_that_goes_failed_is_recorded_with_reason_and_log(stack: EmbeddedStack) -> None:
    stack.inject("endpoint-failed")
    execution = evaluate(stack, "endpoint-failed", spec("endpoint-failed", [C5, C5X]))

    assert execution["status"] == "SUCCEEDED", describe(execution)
    view = run_of(stack, "endpoint-failed")
    failed, completed = view.candidates
    assert failed.status == "FAILED" and completed.status == "COMPLETED"
    assert failed.failure_reason and "ping health check" in failed.failure_reason
    assert failed.error and "ping health check" in failed.error
    assert failed.log_tail and any("PytorchStreamReader" in line for line in failed.log_tail)
    recommendation = view.run.parsed_recommendation()
    assert recommendation is not None
    assert [f.candidate.label for f in recommendation.failures] == ["ml.c5.large"]
    # The reason reaches the team, not only the table.
    (message,) = notified_about(stack, "endpoint-failed")
    assert "ping health check" in str(message["Message"])
    assert_nothing_left(stack)


def test_load_test_that_raises_fails_only_that_candidate(stack: EmbeddedStack) -> None:
    stack.inject("load-test")
    execution = evaluate(stack, "load-test-raises", spec("load-test-raises", [C5, G5]))

    assert execution["status"] == "SUCCEEDED", describe(execution)
    view = run_of(stack, "load-test-raises")
    assert [c.status for c in view.candidates] == ["FAILED", "COMPLETED"]
    assert "LoadTest raised on purpose" in (view.candidates[0].error or "")
    assert view.run.status == "SUCCEEDED"
    assert_nothing_left(stack)


FANNED_OUT_LOAD = {
    "warmup": 2,
    "requests": 12,
    "concurrency": [1, 2, 4],
    "requests_per_level": 16,
    "workers": 2,
}


def test_a_sweep_driven_by_several_workers_is_merged_level_by_level(stack: EmbeddedStack) -> None:
    execution = evaluate(stack, "fan-out", spec("fan-out", [C5X, G5], load=FANNED_OUT_LOAD))

    assert execution["status"] == "SUCCEEDED", failed_events(stack, execution["executionArn"])
    view = run_of(stack, "fan-out")
    assert [c.status for c in view.candidates] == ["COMPLETED"] * 2
    s3 = stack.client("s3")
    for candidate in view.candidates:
        # Both workers ran a share of each level; LoadTest merged them into whole levels.
        assert [(level["concurrency"], level["requests"]) for level in candidate.sweep or []] == [
            (2, 16),
            (4, 16),
        ]
        result = candidate.parsed_result()
        assert result is not None and result.max_rps_at_slo is not None
        prefix = f"reports/fan-out/{view.run.run_id}/load/{candidate.endpoint_name}/"
        listed = s3.list_objects_v2(Bucket=stack.bucket, Prefix=prefix).get("Contents", [])
        assert sorted(item["Key"].removeprefix(prefix) for item in listed) == [
            "worker-0.json",
            "worker-1.json",
        ]
        share = json.loads(s3.get_object(Bucket=stack.bucket, Key=f"{prefix}worker-1.json")["Body"].read())
        assert share["worker"] == 1 and share["levels"] == [2, 4]
        assert [level["concurrency"] for level in share["sweep"]] == [1, 2]
    assert_nothing_left(stack)


def test_a_sweep_worker_that_raises_fails_only_that_candidate(stack: EmbeddedStack) -> None:
    stack.inject("load-worker")
    execution = evaluate(stack, "worker-raises", spec("worker-raises", [C5, G5], load=FANNED_OUT_LOAD))

    assert execution["status"] == "SUCCEEDED", describe(execution)
    view = run_of(stack, "worker-raises")
    assert [c.status for c in view.candidates] == ["FAILED", "COMPLETED"]
    assert "LoadWorker raised on purpose" in (view.candidates[0].error or "")
    assert view.candidates[0].endpoint_deleted_at is not None
    assert_nothing_left(stack)


def test_collect_metrics_that_raises_fails_only_that_candidate(stack: EmbeddedStack) -> None:
    stack.inject("collect-metrics")
    execution = evaluate(stack, "metrics-raise", spec("metrics-raise", [C5, G5]))

    assert execution["status"] == "SUCCEEDED", describe(execution)
    view = run_of(stack, "metrics-raise")
    assert [c.status for c in view.candidates] == ["FAILED", "COMPLETED"]
    assert "CollectMetrics raised on purpose" in (view.candidates[0].error or "")
    assert_nothing_left(stack)


def test_refused_create_endpoint_fails_the_candidate_with_the_quota_message(
    stack: EmbeddedStack,
) -> None:
    stack.inject("create-endpoint")
    execution = evaluate(stack, "create-refused", spec("create-refused", [C5, G5]))

    assert execution["status"] == "SUCCEEDED", describe(execution)
    view = run_of(stack, "create-refused")
    assert [c.status for c in view.candidates] == ["FAILED", "COMPLETED"]
    assert "account-level service limit" in (view.candidates[0].error or "")
    # Not retried: a quota does not go away by waiting.
    errors = failed_events(stack, execution["executionArn"])
    assert sum("SageMaker.ResourceLimitExceededException" in e for e in errors) == 1, errors
    assert_nothing_left(stack)


def test_throttled_create_endpoint_succeeds_on_retry(stack: EmbeddedStack) -> None:
    stack.inject("throttle-create-endpoint")
    execution = evaluate(stack, "throttled", spec("throttled", [C5]))

    assert execution["status"] == "SUCCEEDED", describe(execution)
    errors = failed_events(stack, execution["executionArn"])
    # The throttle reached the state machine under the name real Step Functions gives it...
    assert any("SageMaker.SageMakerException" in e and "Rate exceeded" in e for e in errors), errors
    # ... and the state's Retry, not a Catch, handled it.
    assert stack.faults.fired["throttle-create-endpoint"] == 1
    view = run_of(stack, "throttled")
    assert [c.status for c in view.candidates] == ["COMPLETED"]
    assert_nothing_left(stack)


def test_teardown_that_fails_once_is_retried_and_changes_nothing(stack: EmbeddedStack) -> None:
    stack.inject("teardown-once")
    execution = evaluate(stack, "teardown-once", spec("teardown-once", [C5]))

    assert execution["status"] == "SUCCEEDED", describe(execution)
    errors = failed_events(stack, execution["executionArn"])
    assert any("TeardownIncomplete" in e for e in errors), errors
    view = run_of(stack, "teardown-once")
    assert [c.status for c in view.candidates] == ["COMPLETED"]
    assert view.candidates[0].endpoint_deleted_at is not None
    assert_nothing_left(stack)


def test_recommend_that_raises_fails_the_run_recorded_and_notified(stack: EmbeddedStack) -> None:
    stack.inject("recommend")
    execution = evaluate(stack, "recommend-raises", spec("recommend-raises", [C5]))

    assert execution["status"] == "FAILED"
    assert execution["error"] == "RunFailed"
    assert "Recommend failed" in execution["cause"] and "on purpose" in execution["cause"]
    view = run_of(stack, "recommend-raises")
    assert view.run.status == "FAILED"
    assert view.run.error == execution["cause"]
    assert view.run.finished_at is not None
    history = stack.history(execution["executionArn"])
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert entered[-3:] == ["RecordFailure", "NotifyFailure", "RunFailed"]
    (message,) = notified_about(stack, "recommend-raises")
    assert "on purpose" in str(message["Message"])
    assert_nothing_left(stack)


def test_duplicate_event_starts_exactly_one_evaluation(stack: EmbeddedStack) -> None:
    first = evaluate(stack, "duplicate", spec("duplicate", [C5]))
    assert first["status"] == "SUCCEEDED", describe(first)

    # EventBridge delivers at least once: the same event again, as a new execution.
    before = {e["executionArn"] for e in stack.executions()}
    stack.start_execution(json.loads(first["input"]))
    (second,) = stack.wait_for_new(before)

    assert second["status"] == "SUCCEEDED"
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in stack.history(second["executionArn"])
        if "stateEnteredEventDetails" in e
    ]
    assert "DuplicateEvent" in entered and "Prepare" not in entered
    assert len(stack.store.history("duplicate")) == 1
    assert_nothing_left(stack)


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        ("spec-missing", None, "no evaluation spec at s3://"),
        ("spec-not-json", '{"model": {"name": "x",}', "is not valid JSON"),
        ("spec-invalid", "invalid", "candidates[0].instance_type"),
    ],
)
def test_bad_spec_fails_the_run_with_the_field_and_creates_nothing(
    stack: EmbeddedStack, name: str, body: object, expected: str
) -> None:
    if body == "invalid":
        body = spec(name, [{"instance_type": "c5.large"}])
    execution = evaluate(stack, name, body)

    assert execution["status"] == "FAILED"
    view = run_of(stack, name)
    assert view.run.status == "FAILED"
    assert expected in (view.run.error or ""), view.run.error
    assert view.candidates == []
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in stack.run_history(execution["executionArn"])
        if "stateEnteredEventDetails" in e
    ]
    assert "CreateModel" not in entered and "NotifyFailure" in entered
    (message,) = notified_about(stack, name)
    assert expected in str(message["Message"])
    assert_nothing_left(stack)


@pytest.mark.parametrize("key", ["uploads/outside/model.tar.gz", "models/other/model.zip"])
def test_key_outside_prefix_or_suffix_starts_no_run(stack: EmbeddedStack, key: str) -> None:
    before = {e["executionArn"] for e in stack.executions()}
    stack.upload_model(key, spec=spec("outside", [C5]))

    with pytest.raises(TimeoutError):
        stack.wait_for_new(before, timeout_s=0.5)
    assert stack.store.history("outside") == []


def test_candidate_without_quota_is_skipped_not_failed(stack: EmbeddedStack) -> None:
    stack.inject("no-quota")
    try:
        execution = evaluate(stack, "no-quota", spec("no-quota", [C5X, G5], load=QUICK_LOAD))
    finally:
        stack.quotas.pop("ml.c5.xlarge", None)
        if stack.runtime is not None:
            stack.runtime.quotas["ml.c5.xlarge"] = 4

    assert execution["status"] == "SUCCEEDED", describe(execution)
    view = run_of(stack, "no-quota")
    skipped, completed = view.candidates
    assert skipped.status == "SKIPPED" and completed.status == "COMPLETED"
    assert "no endpoint quota left for ml.c5.xlarge" in (skipped.error or "")
    # Nothing was ever created for the skipped candidate.
    created = [
        json.loads(e["taskScheduledEventDetails"]["parameters"]).get("ModelName")
        for e in stack.run_history(execution["executionArn"])
        if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resource"] == "createModel"
    ]
    assert created == [completed.endpoint_name]
    assert_nothing_left(stack)


def test_max_concurrency_from_the_input_bounds_the_candidates_in_flight(stack: EmbeddedStack) -> None:
    # A key outside the trigger pattern: uploaded without starting a run, then started by hand
    # with a timing override in the input, as tests and the demo may do.
    key = "manual/serial/model.tar.gz"
    stack.put_object("manual/serial/infercost.json", json.dumps(spec("serial", [C5, C5X, G5])))
    stack.put_object(key, b"artifact")
    head = stack.client("s3").head_object(Bucket=stack.bucket, Key=key)
    event = json.loads((FIXTURES / "eventbridge_s3_object_created.json").read_text())
    event["detail"]["bucket"]["name"] = stack.bucket
    event["detail"]["object"].update(
        key=key, etag=head["ETag"].strip('"'), **{"version-id": head["VersionId"]}
    )
    event["workflow"] = {"max_concurrency": 1}
    before = {e["executionArn"] for e in stack.executions()}

    stack.start_execution(event)
    (execution,) = stack.wait_for_new(before)

    assert execution["status"] == "SUCCEEDED", describe(execution)
    in_flight = peak = 0
    for item in stack.history(execution["executionArn"]):
        if item["type"] == "MapIterationStarted":
            in_flight += 1
            peak = max(peak, in_flight)
        elif item["type"] in ("MapIterationSucceeded", "MapIterationFailed"):
            in_flight -= 1
    assert peak == 1
    assert [c.status for c in run_of(stack, "serial").candidates] == ["COMPLETED"] * 3
    assert_nothing_left(stack)
