"""Every AWS call of every Lambda function is in the calls-against-grants map.

moto checks no IAM, so a call its function's role does not allow works here and fails on AWS.
The real workflow runs on the local stack along the paths that call differently, the stack
records each function's calls (local/calls.py), and they are held against
infercost/handler_calls.json, which tests/infra/test_cdk_calls.py holds against the roles.

Refresh the map after a change (docs/deploy.md, "Calls against grants"):
    INFERCOST_WRITE_CALLS=functions/infercost/data/handler_calls.json \\
        .venv/bin/pytest tests/integration/test_calls_against_grants.py
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infercost.data.handler_calls import WRITE_ENV, dump_calls, load_calls
from infercost.domain.workflow import RunRef, resource_tags
from infercost.handlers import HANDLERS, JANITOR, function_name
from infercost.local.calls import OUTSIDE
from infercost.local.model_server import sample_payload
from infercost.local.stack import EmbeddedStack
from infercost.steps.common import running_record
from tests.integration.workflow_support import IMAGE, SWEEP_LOAD, describe, failed_events, run_of, spec

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
C5 = {"instance_type": "ml.c5.large"}
G5 = {"instance_type": "ml.g5.xlarge"}
QUOTAS = {"ml.c5.large": 4, "ml.g5.xlarge": 2}
# Another team's endpoint: Prepare's quota check describes every live endpoint of the account.
OTHER_TEAM = "search-ranker"


def _endpoint(stack: EmbeddedStack, name: str, tags: list[dict[str, str]] | None = None) -> None:
    """A model, endpoint config and endpoint named `name`, InService."""
    sagemaker = stack.client("sagemaker")
    tags = tags or []
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=stack.execution_role_arn,
        PrimaryContainer={"Image": IMAGE},
        Tags=tags,
    )
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.c5.large"}
    sagemaker.create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=[{**variant, "InitialInstanceCount": 1}], Tags=tags
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name, Tags=tags)
    # The local endpoint is Creating for one DescribeEndpoint, then InService.
    while sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating":
        pass


def _delete_endpoint(stack: EmbeddedStack, name: str) -> None:
    sagemaker = stack.client("sagemaker")
    sagemaker.delete_endpoint(EndpointName=name)
    sagemaker.delete_endpoint_config(EndpointConfigName=name)
    sagemaker.delete_model(ModelName=name)


def _evaluate(stack: EmbeddedStack, model: str, body: Any, **kwargs: Any) -> dict[str, Any]:
    (execution,) = stack.evaluate(f"models/{model}/model.tar.gz", spec=body, **kwargs)
    return execution


def _normal_run(stack: EmbeddedStack) -> str:
    """Two candidates, each sweep fanned out to two LoadWorkers reading the payload from S3,
    Slack configured, another team's endpoint live and its traffic history read; the run id."""
    _endpoint(stack, OTHER_TEAM)
    dimensions = [
        {"Name": "EndpointName", "Value": OTHER_TEAM},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    stack.client("cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        # An hour ago: the history ends where the current hour begins.
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": dimensions,
                "Timestamp": datetime.now(UTC) - timedelta(hours=1),
                "Value": 3600.0,
            }
        ],
    )
    body = spec("normal", [C5, G5], load={**SWEEP_LOAD, "workers": 2}, traffic={"endpoint": OTHER_TEAM})
    body["payload"] = {"content_type": "application/json", "s3_key": "models/normal/sample.json"}
    slack_before = len(stack.slack_messages())
    execution = _evaluate(stack, "normal", body, files={"sample.json": sample_payload()})
    _delete_endpoint(stack, OTHER_TEAM)

    assert execution["status"] == "SUCCEEDED", failed_events(stack, execution["executionArn"])
    view = run_of(stack, "normal")
    assert view.run.traffic is not None, view.run.traffic_note
    assert [c.status for c in view.candidates] == ["COMPLETED"] * 2
    assert all(c.sweep for c in view.candidates), "the LoadWorkers swept"
    assert len(stack.slack_messages()) == slack_before + 1
    return str(view.run.run_id)


def _endpoint_failed(stack: EmbeddedStack) -> None:
    stack.inject("endpoint-failed")
    execution = _evaluate(stack, "endpoint-failed", spec("endpoint-failed", [C5, G5]))
    stack.inject(None)

    assert execution["status"] == "SUCCEEDED", describe(execution)
    failed, _ = run_of(stack, "endpoint-failed").candidates
    assert failed.status == "FAILED" and failed.log_tail, "Teardown read the container's log"


def _recommend_raises(stack: EmbeddedStack) -> str:
    """The failure path (RecordFailure, NotifyFailure); the execution's ARN."""
    stack.inject("recommend")
    execution = _evaluate(stack, "recommend-raises", spec("recommend-raises", [C5]))
    stack.inject(None)

    assert execution["status"] == "FAILED" and execution["error"] == "RunFailed", describe(execution)
    return str(execution["executionArn"])


def _bad_spec(stack: EmbeddedStack) -> None:
    execution = _evaluate(stack, "bad-spec", spec("bad-spec", [{"instance_type": "c5.large"}]))

    assert execution["status"] == "FAILED", describe(execution)
    assert "candidates[0].instance_type" in (run_of(stack, "bad-spec").run.error or "")


def _scheduled_janitor(stack: EmbeddedStack, finished_run_id: str, ended_execution_arn: str) -> None:
    """The scheduled event through Lambda Invoke, with something to close and to delete."""
    leftover = f"{stack.resource_prefix}-{finished_run_id}-09-left-behind"
    _endpoint(stack, leftover, resource_tags(finished_run_id))
    abandoned = RunRef(
        model="abandoned",
        started_at="2026-01-01T00:00:00+00:00",
        run_id="abandoned0",
        execution_arn=ended_execution_arn,
        artifact={"bucket": stack.bucket, "key": "models/abandoned/model.tar.gz"},
    )
    stack.store.create_run(running_record(abandoned, stack.region))

    response = stack.client("lambda").invoke(
        FunctionName=f"{stack.name}-{function_name(JANITOR)}",
        Payload=(FIXTURES / "eventbridge_scheduled.json").read_bytes(),
    )

    result = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, result
    assert sorted(result["deleted"]) == [
        f"{kind} {leftover}" for kind in ("endpoint", "endpoint-config", "model")
    ]
    assert result["runs_closed"] == ["abandoned0 FAILED"]


@pytest.fixture(scope="module")
def recorded() -> Iterator[dict[str, set[str]]]:
    """Each function's calls over every path (and OUTSIDE's, if any call escaped a handler)."""
    with EmbeddedStack(quotas=QUOTAS, slack=True) as stack:
        run_id = _normal_run(stack)
        _endpoint_failed(stack)
        ended = _recommend_raises(stack)
        _bad_spec(stack)
        _scheduled_janitor(stack, run_id, ended)
        calls = stack.calls()
    assert stack.leaked_servers == []
    target = os.environ.get(WRITE_ENV)
    if target:
        Path(target).write_text(dump_calls({f: a for f, a in calls.items() if f != OUTSIDE}))
    yield calls


def test_every_call_of_every_function_is_in_the_map(recorded: dict[str, set[str]]) -> None:
    listed = load_calls()
    missing = [
        f"{function} calls {action}, which handler_calls.json does not list: add it to the map "
        f"and grant it to {function}'s role (infra/constructs/permissions.py, FUNCTION_SPECS)"
        for function, actions in sorted(recorded.items())
        if function != OUTSIDE
        for action in sorted(actions - set(listed.get(function, ())))
    ]
    assert missing == [], "\n".join(missing)


def test_every_function_was_exercised(recorded: dict[str, set[str]]) -> None:
    functions = {function_name(state) for state in [*HANDLERS, JANITOR]}
    assert functions - set(recorded) == set()


def test_every_call_is_attributed_to_a_function(recorded: dict[str, set[str]]) -> None:
    # A call outside every handler's context came from a thread that did not copy it.
    assert recorded.get(OUTSIDE, set()) == set()


def test_the_map_lists_only_what_is_called(recorded: dict[str, set[str]]) -> None:
    # A stale entry would have `infercost doctor` check a grant that nothing needs.
    stale = [
        f"{function}: {action}"
        for function, actions in sorted(load_calls().items())
        for action in actions
        if action not in recorded.get(function, set())
    ]
    assert stale == [], f"no longer called; regenerate the map ({WRITE_ENV}): {stale}"
