"""SageMaker access: deleting that is safe twice and waits for settling, finding tagged resources,
logs, quotas, and missing grants that are never skipped."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from infercost.data import endpoints
from infercost.data.clients import PermissionDenied
from infercost.domain.workflow import resource_tags
from tests.conftest import aws_client

ROLE = "arn:aws:iam::123456789012:role/sm"


@pytest.fixture
def aws(moto_aws: None) -> dict[str, Any]:
    return {"sagemaker": aws_client("sagemaker"), "logs": aws_client("logs")}


def create(
    sagemaker: Any, name: str, *, run_id: str | None = "0123456789", instance_type: str = "ml.m5.large"
) -> None:
    tags = resource_tags(run_id) if run_id else []
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"}, Tags=tags)
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": instance_type,
                "InitialInstanceCount": 2,
            }
        ],
        Tags=tags,
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name, Tags=tags)


def names(sagemaker: Any) -> dict[str, list[str]]:
    return {
        "endpoints": [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]],
        "configs": [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]],
        "models": [m["ModelName"] for m in sagemaker.list_models()["Models"]],
    }


def test_release_then_config_and_model_delete_all_three_and_are_safe_twice(aws: dict[str, Any]) -> None:
    sagemaker = aws["sagemaker"]
    name = "infercost-0123456789-00-m5-large"
    create(sagemaker, name)

    first = endpoints.release_endpoint(sagemaker, None, name, wait_s=0)
    rest = endpoints.delete_config_and_model(sagemaker, name)
    second = endpoints.release_endpoint(sagemaker, None, name, wait_s=0)
    again = endpoints.delete_config_and_model(sagemaker, name)

    assert first.outcome == "deleted" and first.before.created_at is not None
    assert rest.complete and rest.deleted == ["endpoint-config", "model"]
    assert second.outcome == "gone" and not second.before.exists
    assert again.complete and again.already_gone == ["endpoint-config", "model"]
    assert names(sagemaker) == {"endpoints": [], "configs": [], "models": []}


def described(status: str) -> dict[str, Any]:
    return {
        "EndpointName": "x",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/x",
        "EndpointConfigName": "x",
        "EndpointStatus": status,
        "CreationTime": "2024-01-01T00:00:00Z",
        "LastModifiedTime": "2024-01-01T00:00:00Z",
    }


class FakeClock:
    """time.monotonic and time.sleep for code that waits: sleeping moves the clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_an_endpoint_still_creating_is_deleted_once_it_settles(aws: dict[str, Any]) -> None:
    # SageMaker refuses to delete an endpoint that is Creating: wait for InService, then delete.
    sagemaker, clock = aws["sagemaker"], FakeClock()
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_endpoint", described("Creating"))
        stub.add_response("describe_endpoint", described("Creating"))
        stub.add_response("describe_endpoint", described("InService"))
        stub.add_response("delete_endpoint", {}, {"EndpointName": "x"})
        release = endpoints.release_endpoint(
            sagemaker, None, "x", wait_s=100, poll_s=15, sleep=clock.sleep, clock=lambda: clock.now
        )

    assert release.outcome == "deleted" and release.released
    assert clock.slept == [15, 15]


def test_an_endpoint_that_does_not_settle_in_time_is_left_undeleted(aws: dict[str, Any]) -> None:
    sagemaker, clock = aws["sagemaker"], FakeClock()
    with Stubber(sagemaker) as stub:
        for _ in range(4):
            stub.add_response("describe_endpoint", described("Creating"))
        release = endpoints.release_endpoint(
            sagemaker, None, "x", wait_s=50, poll_s=15, sleep=clock.sleep, clock=lambda: clock.now
        )
        stub.assert_no_pending_responses()

    assert release.outcome == "unsettled" and not release.released
    assert release.last_status == "Creating" and clock.now <= 50


def test_an_endpoint_already_deleting_is_gone_and_not_deleted_again(aws: dict[str, Any]) -> None:
    sagemaker = aws["sagemaker"]
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_endpoint", described("Deleting"))
        release = endpoints.release_endpoint(sagemaker, None, "x", wait_s=0)
        stub.assert_no_pending_responses()

    assert release.outcome == "gone"


def test_a_refused_delete_is_raised_and_a_failed_config_delete_reported(aws: dict[str, Any]) -> None:
    sagemaker = aws["sagemaker"]
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_endpoint", described("InService"))
        stub.add_client_error("delete_endpoint", "ResourceInUse", "being updated")
        with pytest.raises(ClientError, match="being updated"):
            endpoints.release_endpoint(sagemaker, None, "x", wait_s=0)
    with Stubber(sagemaker) as stub:
        stub.add_client_error("delete_endpoint_config", "ThrottlingException", "Rate exceeded")
        stub.add_response("delete_model", {})
        outcome = endpoints.delete_config_and_model(sagemaker, "x")

    assert not outcome.complete
    assert outcome.failures == {"endpoint-config": "ThrottlingException: Rate exceeded"}
    assert outcome.deleted == ["model"]


def test_describe_endpoint_with_failure_reason_and_log_tail(aws: dict[str, Any]) -> None:
    sagemaker, logs = aws["sagemaker"], aws["logs"]
    create(sagemaker, "infercost-0123456789-00-m5-large")
    group = endpoints.log_group_for("infercost-0123456789-00-m5-large")
    logs.create_log_group(logGroupName=group)
    now = int(time.time() * 1000)
    for stream, offset in (("AllTraffic/i-1", 0), ("AllTraffic/i-2", 1)):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[
                {"timestamp": now + 2 * i + offset, "message": f"{stream} line {i}\n"} for i in range(30)
            ],
        )

    state = endpoints.describe_endpoint(sagemaker, logs, "infercost-0123456789-00-m5-large", with_logs=True)

    assert state.exists and state.status == "InService" and state.created_at is not None
    assert len(state.log_tail) == endpoints.LOG_TAIL_LINES
    assert state.log_tail[-1] == "AllTraffic/i-2 line 29"
    assert state.log_tail[-2] == "AllTraffic/i-1 line 29"
    assert endpoints.describe_endpoint(sagemaker, logs, "gone").exists is False
    assert endpoints.container_log_tail(logs, "never-had-logs") == []


def test_find_managed_keeps_to_the_prefix_the_tag_and_the_run(aws: dict[str, Any]) -> None:
    sagemaker = aws["sagemaker"]
    create(sagemaker, "infercost-0123456789-00-a")
    create(sagemaker, "infercost-9999999999-00-b", run_id="9999999999")
    create(sagemaker, "infercost-untagged-00-c", run_id=None)
    create(sagemaker, "other-0123456789-00-d")

    everything = endpoints.find_managed(sagemaker, "infercost")
    one_run = endpoints.find_managed(sagemaker, "infercost", run_id="0123456789", kinds=("endpoint",))

    assert sorted((r.kind, r.name) for r in everything) == sorted(
        (kind, name)
        for kind in ("endpoint", "endpoint-config", "model")
        for name in ("infercost-0123456789-00-a", "infercost-9999999999-00-b")
    )
    assert [(r.kind, r.name, r.run_id) for r in one_run] == [
        ("endpoint", "infercost-0123456789-00-a", "0123456789")
    ]
    assert one_run[0].status == "InService"
    for resource in everything:
        assert endpoints.delete_resource(sagemaker, resource) is None
    assert endpoints.delete_resource(sagemaker, everything[0]) is None


def test_quota_headroom_subtracts_live_instances(aws: dict[str, Any]) -> None:
    sagemaker = aws["sagemaker"]
    create(sagemaker, "someone-elses-endpoint", run_id=None, instance_type="ml.m5.large")
    quotas = boto3.client("service-quotas", region_name="us-east-1")
    with Stubber(quotas) as stub:
        stub.add_response(
            "list_service_quotas",
            {
                "NextToken": "page-2",
                "Quotas": [
                    {"QuotaName": "ml.m5.large for endpoint usage", "Value": 4.0},
                    {"QuotaName": "ml.m5.large for training job usage", "Value": 99.0},
                ],
            },
            {"ServiceCode": "sagemaker", "MaxResults": 100},
        )
        stub.add_response(
            "list_service_quotas",
            {"Quotas": [{"QuotaName": "ml.g5.xlarge for endpoint usage", "Value": 0.0}]},
            {"ServiceCode": "sagemaker", "MaxResults": 100, "NextToken": "page-2"},
        )
        headroom = endpoints.quota_headroom(quotas, sagemaker, ["ml.m5.large", "ml.g5.xlarge", "ml.c5.large"])

    assert headroom == {"ml.c5.large": None, "ml.g5.xlarge": 0, "ml.m5.large": 2}
    assert endpoints.quota_headroom(quotas, sagemaker, []) == {}


@pytest.mark.parametrize(
    ("code", "message", "missing"),
    [
        ("ValidationException", "Could not find endpoint 'x'.", True),
        ("ValidationException", 'Could not find model "x".', True),
        ("ResourceNotFound", "", True),
        ("ValidationException", "Cannot delete endpoint in Creating status", False),
        ("ThrottlingException", "Rate exceeded", False),
    ],
)
def test_not_found_is_what_sagemaker_says_for_a_missing_resource(
    code: str, message: str, missing: bool
) -> None:
    error = ClientError({"Error": {"Code": code, "Message": message}}, "DeleteEndpoint")
    assert endpoints.is_not_found(error) is missing


def test_errors_other_than_not_found_are_raised(aws: dict[str, Any]) -> None:
    sagemaker, logs = aws["sagemaker"], aws["logs"]
    with Stubber(sagemaker) as stub:
        stub.add_client_error("describe_endpoint", "ThrottlingException", "Rate exceeded")
        with pytest.raises(ClientError, match="Rate exceeded"):
            endpoints.describe_endpoint(sagemaker, logs, "x")
    with Stubber(logs) as stub:
        stub.add_client_error("describe_log_streams", "ServiceUnavailableException", "down")
        with pytest.raises(ClientError, match="down"):
            endpoints.container_log_tail(logs, "x")


def test_a_missing_grant_fails_with_the_action_named_and_is_never_skipped(aws: dict[str, Any]) -> None:
    logs, sagemaker = aws_guarded("logs"), aws_guarded("sagemaker")
    with Stubber(logs) as stub:
        stub.add_client_error("describe_log_streams", "AccessDeniedException", "not authorized")
        with pytest.raises(PermissionDenied, match="logs:DescribeLogStreams"):
            endpoints.container_log_tail(logs, "x")
    summary = {
        "EndpointName": "someone-elses",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/someone-elses",
        "CreationTime": "2024-01-01T00:00:00Z",
        "LastModifiedTime": "2024-01-01T00:00:00Z",
        "EndpointStatus": "InService",
    }
    with Stubber(sagemaker) as stub:
        stub.add_response("list_endpoints", {"Endpoints": [summary]})
        # Quota headroom counts every endpoint of the account: a role that may not describe them
        # would undercount silently, so the step fails and says which grant is missing.
        stub.add_client_error("describe_endpoint", "AccessDeniedException", "not authorized")
        with pytest.raises(PermissionDenied, match="sagemaker:DescribeEndpoint"):
            endpoints.instances_in_use(sagemaker, ["ml.m5.large"])


def aws_guarded(service: str) -> Any:
    from infercost.data import clients as aws

    return aws.guard(boto3.client(service, region_name="us-east-1"))


def test_listing_skips_resources_that_vanish_and_pages_through(aws: dict[str, Any]) -> None:
    sagemaker = aws["sagemaker"]
    summary = {
        "EndpointName": "infercost-0123456789-00-a",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/infercost-0123456789-00-a",
        "CreationTime": "2024-01-01T00:00:00Z",
        "LastModifiedTime": "2024-01-01T00:00:00Z",
        "EndpointStatus": "InService",
    }
    with Stubber(sagemaker) as stub:
        stub.add_response("list_endpoints", {"Endpoints": [summary], "NextToken": "2"})
        stub.add_client_error("list_tags", "ValidationException", "Could not find endpoint")
        stub.add_response("list_endpoints", {"Endpoints": []})
        assert endpoints.find_managed(sagemaker, "infercost", kinds=("endpoint",)) == []
    with Stubber(sagemaker) as stub:
        stub.add_response("list_endpoints", {"Endpoints": [summary, summary]})
        stub.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint")
        stub.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint")
        assert endpoints.instances_in_use(sagemaker, ["ml.m5.large"]) == {"ml.m5.large": 0}
    with Stubber(sagemaker) as stub:
        stub.add_response("list_endpoints", {"Endpoints": [summary]})
        stub.add_client_error("list_tags", "ThrottlingException", "slow down")
        with pytest.raises(ClientError, match="slow down"):
            endpoints.find_managed(sagemaker, "infercost", kinds=("endpoint",))
