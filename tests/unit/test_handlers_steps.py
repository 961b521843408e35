"""Each state's work against moto: Prepare's refusals, Teardown's records, the artifacts bucket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from infercost.data import artifacts
from infercost.data.endpoints import EndpointState
from infercost.data.environment import env_name
from infercost.data.pricing.book import PriceBook
from infercost.data.settings import Settings
from infercost.data.store import ResultsStore
from infercost.domain.errors import InputError
from infercost.domain.models import PayloadSpec
from infercost.domain.records import CandidateRecord
from infercost.domain.workflow import TaskError, resource_tags, run_identity
from infercost.steps import collect_metrics, common, notify, recommend, teardown
from infercost.steps import prepare as prepare_step
from tests.conftest import aws_client

BUCKET = "artifacts"
ROLE = "arn:aws:iam::123456789012:role/sm"
KEY = "models/densenet121/model.tar.gz"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:sm:e1"


@pytest.fixture
def aws(results_store: ResultsStore) -> Iterator[dict[str, Any]]:
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    quotas = aws_client("service-quotas")
    with Stubber(quotas) as stub:
        yield {
            "s3": s3,
            "sagemaker": aws_client("sagemaker"),
            "logs": aws_client("logs"),
            "servicequotas": quotas,
            "quota_stub": stub,
            "store": results_store,
        }


def settings(**extra: Any) -> Settings:
    return Settings.model_validate(
        {
            env_name("table_name"): "results",
            env_name("artifacts_bucket"): BUCKET,
            env_name("execution_role_arn"): ROLE,
            env_name("topic_arn"): "arn:aws:sns:us-east-1:123456789012:t",
            **extra,
        }
    )


def good_spec(**extra: Any) -> dict[str, Any]:
    return {
        "model": {
            "name": "densenet121",
            "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/densenet:1",
        },
        "payload": {"body": "{}"},
        "candidates": [{"instance_type": "ml.c5.large"}, {"instance_type": "ml.g5.xlarge"}],
        **extra,
    }


def event(workflow: dict[str, Any] | None = None) -> prepare_step.PrepareEvent:
    trigger: dict[str, Any] = {
        "detail-type": "Object Created",
        "source": "aws.s3",
        "detail": {"bucket": {"name": BUCKET}, "object": {"key": KEY, "etag": "abc", "version-id": "v1"}},
    }
    if workflow is not None:
        trigger["workflow"] = workflow
    return prepare_step.PrepareEvent(
        event=trigger, execution_arn=EXECUTION, execution_started_at="2024-05-01T12:00:00.123Z"
    )


def prepare(
    aws: dict[str, Any], spec: Any, *, quotas: list[dict[str, Any]] | None = None, **kwargs: Any
) -> Any:
    if spec is not None:
        body = spec if isinstance(spec, (str, bytes)) else json.dumps(spec)
        aws["s3"].put_object(Bucket=BUCKET, Key="models/densenet121/infercost.json", Body=body)
    aws["quota_stub"].add_response("list_service_quotas", {"Quotas": quotas or []})
    return prepare_step.prepare(
        kwargs.pop("request", event()),
        settings=kwargs.pop("settings", settings()),
        s3=aws["s3"],
        sagemaker=aws["sagemaker"],
        servicequotas=aws["servicequotas"],
        store=aws["store"],
        prices=kwargs.pop("prices", lambda: PriceBook.load("us-east-1")),
    )


def test_prepare_plans_every_candidate_and_records_the_run(aws: dict[str, Any]) -> None:
    evaluation = prepare(
        aws,
        good_spec(),
        quotas=[{"QuotaName": "ml.g5.xlarge for endpoint usage", "Value": 0.0}],
        request=event({"endpoint_poll_seconds": 0, "endpoint_deadline_seconds": 60}),
        settings=settings(simulated_note="simulated"),
    )

    assert evaluation.accepted and evaluation.error is None
    assert evaluation.run.run_id == run_identity(EXECUTION)
    assert evaluation.timing.endpoint_poll_seconds == 0
    first, second = evaluation.candidates
    assert first.status == "PENDING" and first.price_per_hour_usd and first.price_per_hour_usd > 0
    # ml.c5.large in us-east-1: third-party copies of the pricing page that agree (the snapshot).
    assert (first.price_source, first.price_basis) == ("snapshot", "corroborated")
    assert second.status == "SKIPPED" and "no endpoint quota left" in (second.skip_reason or "")
    assert evaluation.estimated_cost_usd and evaluation.estimated_cost_usd > 0
    # A sweep one Lambda can drive: no SweepWorkers Map.
    assert evaluation.benchmark is not None and evaluation.benchmark.workers == [0]
    view = aws["store"].get_run_by_key(common.run_key(evaluation.run))
    assert view.run.status == "RUNNING" and view.run.slo is not None
    assert view.run.started_at == "2024-05-01T12:00:00.123Z"
    assert view.run.spec["simulated"] == "simulated"
    assert [(c.status, c.endpoint_name) for c in view.candidates] == [
        ("PENDING", first.name),
        ("SKIPPED", second.name),
    ]
    # Prepare retried by Step Functions: the same run, not a second one.
    again = prepare(aws, None, quotas=[{"QuotaName": "ml.g5.xlarge for endpoint usage", "Value": 0.0}])
    assert again.run == evaluation.run and len(aws["store"].history("densenet121")) == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (None, "infercost.json: no evaluation spec at s3://artifacts/models/densenet121/infercost.json"),
        ('{"model": ', "infercost.json: s3://artifacts/models/densenet121/infercost.json is not valid JSON"),
        (b"\xff\xfe", "infercost.json: s3://artifacts/models/densenet121/infercost.json is not UTF-8"),
        (
            "[1, 2]",
            "infercost.json: s3://artifacts/models/densenet121/infercost.json must hold a JSON object",
        ),
        (good_spec(candidates=[{"instance_type": "ml.c5.large", "count": 2}]), "candidates[0].count"),
        (good_spec(candidates=[{"instance_type": "ml.c5.larg"}]), "candidates[0].instance_type"),
        (
            good_spec(
                model={
                    "name": "densenet121",
                    "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/densenet:1",
                    "execution_role_arn": "arn:aws:iam::123456789012:role/other",
                }
            ),
            "model.execution_role_arn: this stack passes only its own SageMaker execution role",
        ),
        (good_spec(max_benchmark_cost_usd=0.01), "max_benchmark_cost_usd"),
        (
            good_spec(payload={"body": "x" * 40_000}),
            "payload.body: an inline body travels in the workflow's state",
        ),
    ],
)
def test_prepare_refuses_a_spec_it_cannot_use_and_says_why(
    aws: dict[str, Any], spec: Any, message: str
) -> None:
    evaluation = prepare(aws, spec)

    assert not evaluation.accepted and message in (evaluation.error or ""), evaluation.error
    assert "\n" not in (evaluation.error or "")
    assert evaluation.candidates == []
    (run,) = aws["store"].history("densenet121")
    assert run.status == "RUNNING"  # the failure path records FAILED and notifies


def test_prepare_refuses_when_every_candidate_is_out_of_quota(aws: dict[str, Any]) -> None:
    evaluation = prepare(
        aws,
        good_spec(candidates=[{"instance_type": "ml.c5.large"}]),
        quotas=[{"QuotaName": "ml.c5.large for endpoint usage", "Value": 0.0}],
    )
    assert not evaluation.accepted
    assert evaluation.error and evaluation.error.startswith("candidates: no candidate can run")


def test_prepare_refuses_a_bad_timing_override(aws: dict[str, Any]) -> None:
    evaluation = prepare(aws, good_spec(), request=event({"endpoint_poll_seconds": -1}))
    assert not evaluation.accepted and "workflow.endpoint_poll_seconds" in (evaluation.error or "")


def test_prepare_refuses_timing_that_would_outgrow_the_execution_history(aws: dict[str, Any]) -> None:
    # 1800 s polled every second: 1800 DescribeEndpoint loops of ~11 events each.
    evaluation = prepare(aws, good_spec(), request=event({"endpoint_poll_seconds": 1}))
    assert not evaluation.accepted
    assert "1800 DescribeEndpoint polls; at most 1000" in (evaluation.error or "")


def test_prepare_refuses_a_sweep_wider_than_the_stack_reserves_workers_for(aws: dict[str, Any]) -> None:
    wide = good_spec(load={"concurrency": [1, 512]})
    evaluation = prepare(aws, wide, settings=settings(max_sweep_workers=4))
    assert not evaluation.accepted
    assert (evaluation.error or "").startswith("load.concurrency: the sweep would need 8 LoadWorker Lambdas")
    assert "(infercost:max_sweep_workers)" in (evaluation.error or "")


def test_prepare_stores_the_environments_names_and_never_its_values(aws: dict[str, Any]) -> None:
    model = {
        "name": "densenet121",
        "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/densenet:1",
        "environment": {"HF_TOKEN": "hf_secret123"},
    }
    candidates = [
        {"instance_type": "ml.c5.large"},
        {"instance_type": "ml.m5.large", "container": {"environment": {"API_KEY": "own_secret456"}}},
    ]
    evaluation = prepare(aws, good_spec(model=model, candidates=candidates))

    assert evaluation.accepted
    # SageMaker needs the value: it travels in the state to CreateModel, and only there.
    containers = evaluation.benchmark.containers
    assert [containers[plan.container_index]["Environment"] for plan in evaluation.candidates] == [
        {"HF_TOKEN": "hf_secret123"},
        {"API_KEY": "own_secret456"},
    ]
    assert "own_secret456" not in json.dumps([plan.model_dump() for plan in evaluation.candidates])
    view = aws["store"].get_run_by_key(common.run_key(evaluation.run))
    assert view.run.spec["model"]["environment"] == {"HF_TOKEN": prepare_step.REDACTED}
    assert view.run.spec["candidates"][1]["container"]["environment"] == {"API_KEY": prepare_step.REDACTED}
    stored = aws["store"]._client.scan(TableName="results")["Items"]
    assert "hf_secret123" not in json.dumps(stored) and "own_secret456" not in json.dumps(stored)


def test_prepare_refuses_an_image_that_cannot_run_on_a_candidate_before_creating_anything(
    aws: dict[str, Any],
) -> None:
    x86 = (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.3.0-cpu-py311-ubuntu20.04-sagemaker"
    )
    model = {"name": "densenet121", "image_uri": x86}
    evaluation = prepare(aws, good_spec(model=model, candidates=[{"instance_type": "ml.c7g.large"}]))
    assert not evaluation.accepted and evaluation.candidates == []
    assert (evaluation.error or "").startswith(
        "candidates[0]: ml.c7g.large is a Graviton (arm64) CPU instance"
    )
    assert aws["sagemaker"].list_endpoints()["Endpoints"] == []


def test_quota_lookup_that_fails_skips_nothing(aws: dict[str, Any]) -> None:
    aws["s3"].put_object(Bucket=BUCKET, Key="models/densenet121/infercost.json", Body=json.dumps(good_spec()))
    aws["quota_stub"].add_client_error("list_service_quotas", "NoSuchResourceException", "not in this region")
    evaluation = prepare_step.prepare(
        event(),
        settings=settings(),
        s3=aws["s3"],
        sagemaker=aws["sagemaker"],
        servicequotas=aws["servicequotas"],
        store=aws["store"],
        prices=lambda: PriceBook.load("us-east-1"),
    )
    assert evaluation.accepted and [c.status for c in evaluation.candidates] == ["PENDING", "PENDING"]


def candidate_state(aws: dict[str, Any], error: dict[str, str] | None = None) -> common.CandidateState:
    evaluation = prepare(aws, good_spec(candidates=[{"instance_type": "ml.c5.large"}]))
    return common.CandidateState.model_validate(
        {
            "run": evaluation.run.model_dump(mode="json"),
            "timing": evaluation.timing.model_dump(mode="json"),
            "benchmark": evaluation.benchmark.model_dump(mode="json"),
            "candidate": evaluation.candidates[0].model_dump(mode="json"),
            "error": error,
        }
    )


def create_endpoint(sagemaker: Any, name: str) -> None:
    tags = resource_tags("x")
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"}, Tags=tags)
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large"}],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)


def test_teardown_of_a_failed_candidate_records_the_error_and_costs(aws: dict[str, Any]) -> None:
    state = candidate_state(aws, {"Error": "SageMaker.SageMakerException", "Cause": "Rate exceeded"})
    create_endpoint(aws["sagemaker"], state.candidate.name)
    later = datetime.now(UTC).replace(year=datetime.now(UTC).year + 1)

    summary = teardown.teardown(state, **teardown_clients(aws), time_budget_s=60, now=lambda: later)
    again = teardown.teardown(state, **teardown_clients(aws), time_budget_s=60)

    assert summary.status == "FAILED" and summary.error == "Rate exceeded"
    assert again.status == "FAILED"
    view = aws["store"].get_run_by_key(common.run_key(state.run))
    (record,) = view.candidates
    assert record.status == "FAILED" and record.error == "Rate exceeded"
    assert record.endpoint_seconds and record.endpoint_seconds > 3600 * 24 * 300
    assert record.benchmark_cost_usd and record.benchmark_cost_usd > 0
    assert aws["sagemaker"].list_endpoints()["Endpoints"] == []


def teardown_clients(aws: dict[str, Any]) -> dict[str, Any]:
    return {"sagemaker": aws["sagemaker"], "logs": aws["logs"], "store": aws["store"]}


def test_teardown_without_a_measurement_fails_the_candidate(aws: dict[str, Any]) -> None:
    state = candidate_state(aws)
    summary = teardown.teardown(state, **teardown_clients(aws), time_budget_s=60)
    assert summary.status == "FAILED" and summary.error == "no measurement was recorded for this candidate"


def test_teardown_raises_while_the_endpoint_cannot_be_deleted(aws: dict[str, Any]) -> None:
    state = candidate_state(aws)
    with Stubber(aws["sagemaker"]) as stub:
        stub.add_response("describe_endpoint", described(state.candidate.name, "InService"))
        stub.add_client_error("delete_endpoint", "ResourceInUse", "updating")
        with pytest.raises(common.TeardownIncomplete, match="ResourceInUse: updating"):
            teardown.teardown(state, **teardown_clients(aws), time_budget_s=60)
    view = aws["store"].get_run_by_key(common.run_key(state.run))
    assert view.candidates[0].status == "PENDING"


def described(name: str, status: str) -> dict[str, Any]:
    return {
        "EndpointName": name,
        "EndpointArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}",
        "EndpointConfigName": name,
        "EndpointStatus": status,
        "CreationTime": datetime(2024, 5, 1, 12, tzinfo=UTC),
        "LastModifiedTime": datetime(2024, 5, 1, 12, tzinfo=UTC),
    }


def test_teardown_past_its_time_hands_an_endpoint_still_creating_to_the_janitor(aws: dict[str, Any]) -> None:
    # The deadline passed while SageMaker was still creating the endpoint: it cannot be deleted
    # until it settles, which can take an hour. The candidate fails now, nothing is deleted, and
    # the step does not raise (retrying it would only wait again).
    state = candidate_state(aws, {"Error": "EndpointDeadlinePassed", "Cause": "not InService within 1800 s"})
    # The stack's settle bound (70 s) is shorter than what the Lambda has left (600 s); polls
    # every 30 s (the endpoint poll): at 0, 30 and 60 s, and no poll past 70 s.
    state = state.model_copy(
        update={"timing": state.timing.model_copy(update={"teardown_settle_seconds": 70})}
    )
    slept: list[float] = []
    with Stubber(aws["sagemaker"]) as stub:
        for _ in range(3):
            stub.add_response("describe_endpoint", described(state.candidate.name, "Creating"))
        summary = teardown.teardown(
            state,
            **teardown_clients(aws),
            time_budget_s=600,
            sleep=slept.append,
            clock=lambda: sum(slept),
        )
        stub.assert_no_pending_responses()

    assert summary.status == "FAILED"
    assert slept == [30, 30]
    assert "was still Creating after 70 s" in (summary.error or "") and "janitor" in (summary.error or "")
    assert (summary.error or "").startswith("not InService within 1800 s")
    (record,) = aws["store"].get_run_by_key(common.run_key(state.run)).candidates
    assert record.status == "FAILED" and record.endpoint_deleted_at is None


def test_release_deletes_the_endpoint_records_its_time_and_shortens_the_metrics_wait(
    aws: dict[str, Any],
) -> None:
    state = candidate_state(aws)
    create_endpoint(aws["sagemaker"], state.candidate.name)
    ended = datetime.now(UTC)
    state = state.model_copy(
        update={
            "load": common.LoadSummary(
                started_at=ended.timestamp() - 30,
                ended_at=ended.timestamp() - 20,
                requests=10,
                ok=10,
                errors=0,
                latency_ms=None,
                max_rps_at_slo=None,
                partial=False,
                release_in_seconds=0,
            )
        }
    )

    summary = teardown.release_endpoint(
        state, sagemaker=aws["sagemaker"], store=aws["store"], time_budget_s=60, now=lambda: ended
    )

    assert summary.released
    # The metrics delay (60 s by default) counts from the last measured request, 20 s ago.
    assert summary.metrics_wait_seconds == 40
    assert aws["sagemaker"].list_endpoints()["Endpoints"] == []
    assert len(aws["sagemaker"].list_endpoint_configs()["EndpointConfigs"]) == 1
    (record,) = aws["store"].get_run_by_key(common.run_key(state.run)).candidates
    assert record.status == "RUNNING" and record.endpoint_seconds is not None
    assert record.benchmark_cost_usd is not None


def test_endpoint_failure_is_recorded_with_sagemakers_reason() -> None:
    state = common.CandidateState.model_construct(
        candidate=type("Plan", (), {"name": "ep"})(),  # type: ignore[arg-type]
        error=TaskError(Error="EndpointFailed", Cause="endpoint ep ended in status Failed"),
    )
    diagnosed = EndpointState(name="ep", exists=True, status="Failed", failure_reason="ping failed")
    assert teardown._candidate_error(state, diagnosed) == "endpoint ep failed: ping failed"
    undiagnosed = EndpointState(name="ep", exists=False)
    assert teardown._candidate_error(state, undiagnosed) == "endpoint ep ended in status Failed"


def test_payload_from_the_bucket_or_inline(aws: dict[str, Any]) -> None:
    aws["s3"].put_object(Bucket=BUCKET, Key="models/m/sample.json", Body=b"[1,2]")

    assert artifacts.read_payload(aws["s3"], BUCKET, PayloadSpec(body="{}")) == b"{}"
    assert artifacts.read_payload(aws["s3"], BUCKET, PayloadSpec(s3_key="models/m/sample.json")) == b"[1,2]"
    with pytest.raises(
        InputError, match=r"payload\.s3_key: no payload object at s3://artifacts/models/m/none"
    ):
        artifacts.read_payload(aws["s3"], BUCKET, PayloadSpec(s3_key="models/m/none"))


def test_oversized_spec_and_report_key(aws: dict[str, Any]) -> None:
    aws["s3"].put_object(Bucket=BUCKET, Key="big.json", Body=b" " * (artifacts.MAX_SPEC_BYTES + 1))
    with pytest.raises(InputError, match="larger than 256 KB"):
        artifacts.read_spec(aws["s3"], BUCKET, "big.json")
    assert artifacts.report_key("reports/", "m", "r1") == "reports/m/r1.html"
    assert artifacts.report_key("html", "m", "r1") == "html/m/r1.html"
    assert artifacts.report_key("", "m", "r1") == "m/r1.html"


def test_sweep_shares_live_beside_the_report_and_a_missing_one_is_named(aws: dict[str, Any]) -> None:
    key = artifacts.sweep_share_key("reports/", "m", "r1", "infercost-r1-00-c5", 1)
    assert key == "reports/m/r1/load/infercost-r1-00-c5/worker-1.json"
    artifacts.put_json(aws["s3"], BUCKET, key, {"worker": 1, "levels": [2]})
    assert artifacts.get_json(aws["s3"], BUCKET, key) == {"worker": 1, "levels": [2]}
    with pytest.raises(InputError, match=r"^sweep: s3://artifacts/reports/m/r1/gone.json is missing"):
        artifacts.get_json(aws["s3"], BUCKET, "reports/m/r1/gone.json")


def measured_run(aws: dict[str, Any], execution: str, avg_ms: float, *, fail_all: bool = False) -> Any:
    """A run as the Map leaves it: candidates with results (or failed), ready to recommend."""
    request = prepare_step.PrepareEvent(
        event=event().event,
        execution_arn=execution,
        execution_started_at=f"2024-05-0{execution[-1]}T12:00:00.000Z",
    )
    evaluation = prepare(aws, good_spec(slo={"percentile": "p90", "max_latency_ms": 80}), request=request)
    store = aws["store"]
    for plan in evaluation.candidates:
        fields: dict[str, Any] = {"status": "FAILED", "error": "broke"}
        if not fail_all:
            latency = avg_ms * (plan.index + 1)
            fields = {
                "status": "COMPLETED",
                "result": {
                    "candidate": plan.candidate.model_dump(mode="json"),
                    "latency_ms": {"avg": latency, "p90": latency * 1.2},
                    "invocations": 100,
                    "source": "cloudwatch",
                },
                "benchmark_cost_usd": 0.01,
                "endpoint_seconds": 60.0,
            }
        store.put_candidate(
            common.run_key(evaluation.run),
            CandidateRecord(
                run_id=evaluation.run.run_id, index=plan.index, candidate=plan.candidate, **fields
            ),
        )
    return evaluation.run


def test_recommend_ranks_records_and_flags_a_regression_against_the_last_run(aws: dict[str, Any]) -> None:
    prices = lambda: PriceBook.load("us-east-1")  # noqa: E731
    first = measured_run(aws, "arn:aws:states:us-east-1:123456789012:execution:sm:1", avg_ms=20)
    summary = recommend.recommend_run(first, store=aws["store"], prices=prices)
    aws["store"].finish_run(common.run_key(first), status="SUCCEEDED", finished_at=datetime.now(UTC))
    second = measured_run(aws, "arn:aws:states:us-east-1:123456789012:execution:sm:2", avg_ms=40)

    again = recommend.recommend_run(second, store=aws["store"], prices=prices)

    assert summary.recommended == "ml.c5.large" and again.recommended == "ml.c5.large"
    view = aws["store"].get_run_by_key(common.run_key(second))
    assert view.run.recommendation["recommended"]["label"] == "ml.c5.large"
    assert view.run.benchmark_cost_usd == pytest.approx(0.02)
    assert view.run.endpoint_seconds == pytest.approx(120.0)
    kinds = {r["kind"] for r in view.run.regressions}
    assert "cost_increase" in kinds and "latency_increase" in kinds


def test_recommend_with_nothing_measured_says_why_per_candidate(aws: dict[str, Any]) -> None:
    run = measured_run(aws, "arn:aws:states:us-east-1:123456789012:execution:sm:3", avg_ms=1, fail_all=True)
    with pytest.raises(common.NothingMeasured, match=r"ml\.c5\.large: broke; ml\.g5\.xlarge: broke"):
        recommend.recommend_run(run, store=aws["store"], prices=lambda: PriceBook.load("us-east-1"))


def test_collect_metrics_stops_polling_when_the_lambda_budget_runs_out(aws: dict[str, Any]) -> None:
    # The spec's metrics deadline (600 s) is longer than what the Lambda has left: the budget wins,
    # and the client's figures are recorded before Lambda would cut the function off.
    state = candidate_state(aws)
    now = datetime.now(UTC).timestamp()
    load = common.LoadSummary(
        started_at=now - 20,
        ended_at=now - 10,
        requests=10,
        ok=10,
        errors=0,
        latency_ms={"avg": 12.0, "p90": 15.0},
        max_rps_at_slo=None,
        partial=False,
        release_in_seconds=0,
    )
    state = state.model_copy(update={"load": load})
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    slept: list[float] = []

    summary = collect_metrics.collect_metrics(
        state,
        cloudwatch=cloudwatch,
        store=aws["store"],
        time_budget_s=45.0,
        sleep=slept.append,
        clock=lambda: sum(slept),
    )

    assert summary.partial and summary.source == "client" and summary.sample_count == 0
    # Polls every 30 s (then backing off), never past the 45 s budget, not on to 600 s.
    assert slept and sum(slept) <= 45.0
    (record,) = aws["store"].get_run_by_key(common.run_key(state.run)).candidates
    assert record.parsed_result() is not None and record.parsed_result().source == "client"
    # The price and how far it can be trusted travel from Prepare's plan into the result.
    result = record.parsed_result()
    assert (result.price_source, result.price_basis) == ("snapshot", "corroborated")
    assert result.model_dump(mode="json")["price_basis"] == "corroborated"


class RecordingSns:
    """An SNS client that keeps what it is asked to publish."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, **message: Any) -> dict[str, str]:
        self.published.append(message)
        return {"MessageId": "m1"}


@pytest.mark.parametrize("local_stack", [False, True])
def test_notify_links_the_report_for_as_long_as_each_link_works(
    aws: dict[str, Any], local_stack: bool
) -> None:
    from infercost.data.notifications import report_s3_client

    run = measured_run(aws, "arn:aws:states:us-east-1:123456789012:execution:sm:4", avg_ms=20)
    key = "reports/densenet121/r.html"
    aws["store"].update_run(common.run_key(run), report_key=key)
    sns = RecordingSns()

    notify.notify(
        notify.NotifyEvent(run=run, outcome="SUCCEEDED"),
        store=aws["store"],
        sns=sns,
        secretsmanager=None,
        report_s3=report_s3_client("us-east-1"),
        settings=settings(simulated_note="simulated") if local_stack else settings(),
    )

    (message,) = sns.published
    body = message["Message"]
    console = f"https://us-east-1.console.aws.amazon.com/s3/object/{BUCKET}?region=us-east-1&prefix={key}"
    command = f"infercost report {run.run_id} --table results --region us-east-1 --out report.html"
    # The local stack's bucket and table are in no AWS account: only the download link is true there.
    assert (console in body) is (command in body) is (not local_stack)
    assert "valid for up to an hour" in body and "X-Amz-Expires=3600&" in body
