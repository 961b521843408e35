"""The local stack's moto extensions, each on its own: what AWS does that moto 5.2.5 does not."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from infercost.domain.errors import InputError
from infercost.local.faults import FAULT_POINTS, Faults, candidate_index
from infercost.local.output import emf_metric_data
from infercost.local.stack import EmbeddedStack
from infercost.local.webhook import WebhookReceiver

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROLE = "arn:aws:iam::123456789012:role/infercost-state-machine"


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack(quotas={"ml.c5.large": 3}) as local:
        yield local
    assert local.leaked_servers == []


@pytest.fixture(autouse=True)
def no_faults(stack: EmbeddedStack) -> Iterator[None]:
    stack.inject(None)
    yield
    stack.inject(None)


def run_definition(stack: EmbeddedStack, definition: dict[str, Any], payload: Any = None) -> dict[str, Any]:
    """Create a one-off state machine, run it once, return the finished execution."""
    sfn = stack.client("stepfunctions")
    name = f"probe-{time.monotonic_ns()}"
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload or {}))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise TimeoutError(name)


def single_task(resource: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": resource,
                "Parameters": parameters,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }


# --- Step Functions ------------------------------------------------------------------------


def test_sagemaker_sdk_errors_carry_the_names_real_step_functions_gives(stack: EmbeddedStack) -> None:
    missing = run_definition(
        stack,
        single_task("arn:aws:states:::aws-sdk:sagemaker:describeEndpoint", {"EndpointName": "nope"}),
    )
    stack.inject("create-endpoint", target_index=3)
    refused = run_definition(
        stack,
        single_task(
            "arn:aws:states:::aws-sdk:sagemaker:createEndpoint",
            {"EndpointName": "infercost-0123456789-03-c5-large", "EndpointConfigName": "x"},
        ),
    )

    assert json.loads(missing["output"])["Error"] == "SageMaker.SageMakerException"
    assert "Could not find endpoint" in json.loads(missing["output"])["Cause"]
    assert json.loads(refused["output"])["Error"] == "SageMaker.ResourceLimitExceededException"


def test_execution_start_time_is_an_iso_string(stack: EmbeddedStack) -> None:
    execution = run_definition(
        stack,
        {
            "StartAt": "Show",
            "States": {
                "Show": {"Type": "Pass", "Parameters": {"t.$": "$$.Execution.StartTime"}, "End": True}
            },
        },
    )
    started = json.loads(execution["output"])["t"]
    assert isinstance(started, str) and started.endswith("Z") and "T" in started


# --- Lambda ------------------------------------------------------------------------------


def test_lambda_invoke_runs_the_python_handler_and_reports_errors_like_lambda(
    stack: EmbeddedStack,
) -> None:
    functions = stack.client("lambda")
    name = stack.function_arns["Teardown"]

    response = functions.invoke(FunctionName=name, Payload=json.dumps({"state": {"run": 1}}))

    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "InputError"
    assert error["errorMessage"].startswith("event.state.run")
    assert isinstance(error["stackTrace"], list)


def test_lambda_output_goes_to_its_log_group_and_metrics_to_cloudwatch(stack: EmbeddedStack) -> None:
    functions = stack.client("lambda")
    scheduled = json.loads((FIXTURES / "eventbridge_scheduled.json").read_text())

    response = functions.invoke(FunctionName=stack.function_arns["janitor"], Payload=json.dumps(scheduled))

    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read())["endpoints_over_max_age"] == 0
    metrics = stack.client("cloudwatch").list_metrics(Namespace="infercost")["Metrics"]
    assert {"EndpointsOverMaxAge", "EndpointsDeletedByJanitor"} <= {m["MetricName"] for m in metrics}
    streams = stack.client("logs").describe_log_streams(logGroupName="/aws/lambda/infercost-JanitorFunction")
    assert streams["logStreams"]


def test_functions_not_of_infercost_keep_mocks_echo(stack: EmbeddedStack) -> None:
    functions = stack.client("lambda")
    role = functions.get_function(FunctionName=stack.function_arns["Prepare"])["Configuration"]["Role"]
    functions.create_function(
        FunctionName="someone-else",
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )
    response = functions.invoke(FunctionName="someone-else", Payload=b'{"hello": 1}')
    assert json.loads(response["Payload"].read()) == {"hello": 1}


def test_emf_document_becomes_put_metric_data() -> None:
    document = {
        "_aws": {
            "Timestamp": 1714564800000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "infercost",
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": "CandidatesFailed", "Unit": "Count"}],
                }
            ],
        },
        "service": "infercost",
        "CandidatesFailed": [1.0, 2.0],
    }
    namespace, items = emf_metric_data(document) or ("", [])
    assert namespace == "infercost"
    assert items == [
        {
            "MetricName": "CandidatesFailed",
            "Dimensions": [{"Name": "service", "Value": "infercost"}],
            "Values": [1.0, 2.0],
            "Unit": "Count",
            "Timestamp": 1714564800.0,
        }
    ]
    assert emf_metric_data({"level": "INFO"}) is None


# --- S3 -> EventBridge -> Step Functions ----------------------------------------------------


def test_s3_upload_starts_the_state_machine_with_the_real_event(stack: EmbeddedStack) -> None:
    before = {e["executionArn"] for e in stack.executions()}
    stack.put_object("models/event-shape/infercost.json", "{}")  # no trigger: wrong suffix
    stack.put_object("models/event-shape/model.tar.gz", b"artifact")
    (execution,) = stack.wait_for_new(before)

    event = json.loads(execution["input"])
    documented = json.loads((FIXTURES / "eventbridge_s3_object_created.json").read_text())
    assert set(event) == set(documented)
    assert set(event["detail"]) == set(documented["detail"])
    assert set(event["detail"]["object"]) == set(documented["detail"]["object"])
    assert event["detail-type"] == "Object Created" and event["source"] == "aws.s3"
    assert event["detail"]["object"]["key"] == "models/event-shape/model.tar.gz"
    assert event["detail"]["bucket"]["name"] == stack.bucket
    head = stack.client("s3").head_object(Bucket=stack.bucket, Key="models/event-shape/model.tar.gz")
    assert event["detail"]["object"]["version-id"] == head["VersionId"]
    assert event["detail"]["object"]["etag"] == head["ETag"].strip('"')
    # No spec beside it: the run is refused and recorded, nothing created.
    assert execution["status"] == "FAILED"
    assert stack.leftovers()["endpoints"] == []


def test_rule_input_and_non_matching_patterns(stack: EmbeddedStack) -> None:
    events = stack.client("events")
    events.put_rule(
        Name="constant-input",
        EventPattern=json.dumps(
            {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"object": {"key": [{"prefix": "probe/"}]}},
            }
        ),
    )
    events.put_targets(
        Rule="constant-input",
        Targets=[{"Id": "t", "Arn": stack.state_machine_arn, "Input": json.dumps({"constant": True})}],
    )
    before = {e["executionArn"] for e in stack.executions()}
    try:
        stack.put_object("probe/thing.bin", b"x")
        (execution,) = stack.wait_for_new(before)
    finally:
        events.remove_targets(Rule="constant-input", Ids=["t"])
        events.delete_rule(Name="constant-input")
    assert json.loads(execution["input"]) == {"constant": True}


# --- SageMaker ----------------------------------------------------------------------------


def _endpoint(stack: EmbeddedStack, name: str, instance_type: str = "ml.c5.large") -> None:
    sagemaker = stack.client("sagemaker")
    sagemaker.create_model(
        ModelName=name, ExecutionRoleArn=stack.execution_role_arn, PrimaryContainer={"Image": "i"}
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": instance_type,
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)


def _delete(stack: EmbeddedStack, name: str) -> None:
    sagemaker = stack.client("sagemaker")
    sagemaker.delete_endpoint(EndpointName=name)
    sagemaker.delete_endpoint_config(EndpointConfigName=name)
    sagemaker.delete_model(ModelName=name)


def test_endpoint_is_created_then_in_service_with_a_server_and_gone_when_deleted(
    stack: EmbeddedStack,
) -> None:
    from infercost.local.model_server import sample_payload

    name = "infercost-aaaaaaaaaa-00-g5-xlarge"
    _endpoint(stack, name, "ml.g5.xlarge")
    sagemaker = stack.client("sagemaker")
    assert sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating"
    assert sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    assert stack.runtime is not None
    url = stack.runtime.url_for(name)
    assert url and url.startswith("http://127.0.0.1:")
    request = urllib.request.Request(
        f"{url}/invocations", data=sample_payload(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    assert stack.endpoint_activity() == {name: 1}

    _delete(stack, name)

    assert stack.runtime.url_for(name) is None
    assert stack.leftovers()["model_servers"] == []


def test_endpoint_failed_fault_gives_failure_reason_and_container_log(stack: EmbeddedStack) -> None:
    name = "infercost-bbbbbbbbbb-01-c5-large"
    stack.inject("endpoint-failed", target_index=1)
    _endpoint(stack, name)
    sagemaker = stack.client("sagemaker")
    sagemaker.describe_endpoint(EndpointName=name)
    described = sagemaker.describe_endpoint(EndpointName=name)
    events = stack.client("logs").filter_log_events(logGroupName=f"/aws/sagemaker/Endpoints/{name}")["events"]
    _delete(stack, name)

    assert described["EndpointStatus"] == "Failed"
    assert "ping health check" in described["FailureReason"]
    assert any("PytorchStreamReader" in e["message"] for e in events)


def _in_service(stack: EmbeddedStack, name: str) -> None:
    sagemaker = stack.client("sagemaker")
    for _ in range(10):
        if sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService":
            return
    raise AssertionError(f"{name} never became InService")


def test_an_endpoint_still_creating_cannot_be_deleted_as_on_sagemaker(stack: EmbeddedStack) -> None:
    name = "infercost-dddddddddd-00-c5-large"
    _endpoint(stack, name)
    sagemaker = stack.client("sagemaker")
    with pytest.raises(ClientError) as refused:
        sagemaker.delete_endpoint(EndpointName=name)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Cannot delete in-progress endpoint" in refused.value.response["Error"]["Message"]
    _in_service(stack, name)
    _delete(stack, name)
    assert stack.leftovers()["endpoints"] == []


def test_delete_endpoint_fails_once_then_succeeds(stack: EmbeddedStack) -> None:
    name = "infercost-cccccccccc-00-c5-large"
    stack.inject("teardown-once")
    _endpoint(stack, name)
    _in_service(stack, name)
    sagemaker = stack.client("sagemaker")
    with pytest.raises(ClientError) as first:
        sagemaker.delete_endpoint(EndpointName=name)
    assert first.value.response["Error"]["Code"] == "ResourceInUse"
    _delete(stack, name)
    assert stack.leftovers()["endpoints"] == []


def test_current_instance_types_are_accepted_and_unknown_ones_refused(stack: EmbeddedStack) -> None:
    sagemaker = stack.client("sagemaker")
    sagemaker.create_model(
        ModelName="types", ExecutionRoleArn=stack.execution_role_arn, PrimaryContainer={"Image": "i"}
    )
    try:
        for instance_type in ("ml.g6.xlarge", "ml.c7g.large", "ml.inf2.xlarge"):
            sagemaker.create_endpoint_config(
                EndpointConfigName=f"types-{instance_type.replace('.', '-')}",
                ProductionVariants=[
                    {"VariantName": "v", "ModelName": "types", "InstanceType": instance_type}
                ],
            )
            sagemaker.delete_endpoint_config(EndpointConfigName=f"types-{instance_type.replace('.', '-')}")
        with pytest.raises(ClientError, match="ProductionVariantInstanceType"):
            sagemaker.create_endpoint_config(
                EndpointConfigName="types-bogus",
                ProductionVariants=[{"VariantName": "v", "ModelName": "types", "InstanceType": "ml.z9.huge"}],
            )
    finally:
        sagemaker.delete_model(ModelName="types")


# --- Service Quotas ------------------------------------------------------------------------


def test_list_service_quotas_answers_sagemaker_endpoint_quotas(stack: EmbeddedStack) -> None:
    quotas = stack.client("service-quotas")
    listed = quotas.list_service_quotas(ServiceCode="sagemaker")["Quotas"]

    assert [(q["QuotaName"], q["Value"]) for q in listed] == [("ml.c5.large for endpoint usage", 3.0)]
    assert listed[0]["QuotaCode"].startswith("L-")
    with pytest.raises(ClientError, match="NoSuchResource"):
        quotas.list_service_quotas(ServiceCode="ec2")


# --- fault points and the webhook stand-in ------------------------------------------------


def test_fault_points_are_named_and_once_points_fire_once() -> None:
    with pytest.raises(InputError, match=r"unknown fault point 'bogus'.*one of create-endpoint"):
        Faults.of(["bogus"])
    faults = Faults.of(list(FAULT_POINTS), target_index=2)
    assert not faults.fires("teardown-once", 1)
    assert faults.fires("teardown-once", 2)
    assert not faults.fires("teardown-once", 2)
    assert faults.fires("load-test", 2) and faults.fires("load-test", 2)
    assert candidate_index("infercost-0123456789-07-c5-large") == 7
    assert candidate_index("someone-else") is None


def test_webhook_receiver_records_posts_and_stops() -> None:
    with WebhookReceiver() as receiver:
        request = urllib.request.Request(
            receiver.url, data=b'{"text": "hi"}', headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        url = receiver.url
    assert receiver.received() == [{"text": "hi"}]
    with pytest.raises(OSError):
        urllib.request.urlopen(urllib.request.Request(url, data=b"{}"), timeout=2)


def test_rule_with_input_path_and_a_queue_beside_the_state_machine(stack: EmbeddedStack) -> None:
    events, sqs = stack.client("events"), stack.client("sqs")
    queue = sqs.create_queue(QueueName="beside")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="detail-only",
        EventPattern=json.dumps(
            {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"object": {"key": [{"prefix": "path/"}]}},
            }
        ),
    )
    events.put_targets(
        Rule="detail-only",
        Targets=[
            {"Id": "sfn", "Arn": stack.state_machine_arn, "InputPath": "$.detail.object"},
            {"Id": "queue", "Arn": queue_arn},
        ],
    )
    before = {e["executionArn"] for e in stack.executions()}
    try:
        stack.put_object("path/thing.bin", b"x")
        (execution,) = stack.wait_for_new(before)
        stack.client("s3").delete_object(Bucket=stack.bucket, Key="path/thing.bin")
    finally:
        events.remove_targets(Rule="detail-only", Ids=["sfn", "queue"])
        events.delete_rule(Name="detail-only")

    assert json.loads(execution["input"])["key"] == "path/thing.bin"
    queued = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["detail"]["object"]["key"] for m in queued] == ["path/thing.bin"]
    # The deletion matched no rule and started nothing.
    assert len([e for e in stack.executions() if e["executionArn"] not in before]) == 1
