"""The state machine definitions themselves: lint, substitutions, API shapes, and their failure wiring.

`evaluate.asl.json` is the run; each candidate runs as its own execution of `candidate.asl.json`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from statelint.linter import Linter

from infercost.domain.hardware import EXAMPLE_IMAGES
from infercost.domain.models import Candidate, EvaluationSpec
from infercost.domain.workflow import Benchmark, RunRef, Timing, container_definitions, plan_candidates
from infercost.handlers import HANDLERS, JANITOR, function_name
from infercost.local.stack import EmbeddedStack, substitute
from infercost.local.stepfunctions import SERVICE_ERROR_NAMES
from tests.asl_rules import all_states

STATEMACHINE = Path(__file__).resolve().parents[2] / "statemachine"
ASL_TEXT = (STATEMACHINE / "evaluate.asl.json").read_text(encoding="utf-8")
ASL = json.loads(ASL_TEXT)
CANDIDATE_TEXT = (STATEMACHINE / "candidate.asl.json").read_text(encoding="utf-8")
CANDIDATE = json.loads(CANDIDATE_TEXT)
DEFINITIONS = {"evaluate": ASL, "candidate": CANDIDATE}
# Teardown itself, and the Succeed/Pass/Choice/Wait states, have nothing to catch.
LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def every_state() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{name}/{path}", state) for name, d in DEFINITIONS.items() for path, state in all_states(d)]


@pytest.mark.parametrize("name", DEFINITIONS)
def test_statelint_finds_no_problem(name: str) -> None:
    assert Linter.validate(DEFINITIONS[name]) == []


def test_placeholders_equal_the_substitutions() -> None:
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", ASL_TEXT + CANDIDATE_TEXT))
    substitutions = EmbeddedStack().substitutions()

    assert placeholders == set(substitutions)
    assert "${" not in substitute(ASL_TEXT + CANDIDATE_TEXT, substitutions)


def test_the_candidate_workflow_never_names_the_run_workflow() -> None:
    # The run starts candidate executions; a reference back would make the two depend on each other.
    assert "CandidateStateMachineArn" in ASL_TEXT
    assert "CandidateStateMachineArn" not in CANDIDATE_TEXT and "Janitor" not in CANDIDATE_TEXT


def test_every_function_placeholder_is_a_registered_handler() -> None:
    functions = {
        state["Parameters"]["FunctionName"]
        for _, state in every_state()
        if state.get("Resource") == "arn:aws:states:::lambda:invoke"
    }
    expected = {"${" + f"{s}FunctionArn" + "}" for s in HANDLERS} | {
        "${" + f"{function_name(JANITOR)}Arn" + "}"
    }
    assert functions == expected


def _resolve(template: Any, data: dict[str, Any]) -> Any:
    """Parameters with every '<key>.$' JSONPath replaced by its value in `data`."""
    if isinstance(template, dict):
        resolved = {}
        for key, value in template.items():
            if key.endswith(".$"):
                resolved[key[:-2]] = _path(value, data)
            else:
                resolved[key] = _resolve(value, data)
        return resolved
    if isinstance(template, list):
        return [_resolve(item, data) for item in template]
    return template


def _path(path: str, data: dict[str, Any]) -> Any:
    item = re.fullmatch(r"States\.ArrayGetItem\((\S+), (\S+)\)", path)
    if item:
        return _path(item[1], data)[_path(item[2], data)]
    if path.startswith("States."):
        return "intrinsic-function-result"
    value: Any = data
    for part in re.findall(r"[^.$\[\]']+", path.removeprefix("$$").removeprefix("$")):
        value = value[part]
    return value


def _iteration_states(candidate: Candidate) -> dict[str, Any]:
    """The Map iteration's input for one candidate, as Prepare builds it."""
    spec = EvaluationSpec.model_validate(
        {
            "model": {"name": "densenet121", "images": EXAMPLE_IMAGES},
            "payload": {"body": "{}"},
            "candidates": [candidate.model_dump(mode="json")],
        }
    )
    run = RunRef.model_validate(
        {
            "model": "densenet121",
            "started_at": "2024-05-01T12:00:00.000Z",
            "run_id": "0123456789",
            "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:sm:x",
            "artifact": {"bucket": "b", "key": "models/densenet121/model.tar.gz"},
        }
    )
    containers, indexes = container_definitions(spec, run.artifact)
    (plan,) = plan_candidates(
        spec, run, prefix="infercost", prices={0: 0.2}, skipped={}, container_indexes=indexes
    )
    benchmark = Benchmark(containers=containers, payload=spec.payload, load=spec.load, slo=spec.slo)
    return {
        "run": run.model_dump(mode="json"),
        "timing": Timing().model_dump(mode="json"),
        "benchmark": benchmark.model_dump(mode="json"),
        "candidate": plan.model_dump(mode="json"),
    }


SERVICE_TASKS = [
    (name, state)
    for name, state in every_state()
    if state["Type"] == "Task" and state["Resource"].startswith("arn:aws:states:::aws-sdk:")
]
CANDIDATES = [
    Candidate(instance_type="ml.c5.large"),
    Candidate(instance_type="ml.g5.xlarge", instance_count=2),
    Candidate.model_validate({"serverless": {"memory_mb": 4096, "max_concurrency": 5}}),
]


@pytest.mark.parametrize("candidate", CANDIDATES, ids=lambda c: c.slug)
@pytest.mark.parametrize(("name", "state"), SERVICE_TASKS, ids=[n for n, _ in SERVICE_TASKS])
def test_sdk_task_parameters_fit_the_botocore_input_shape(
    name: str, state: dict[str, Any], candidate: Candidate
) -> None:
    service, action = state["Resource"].removeprefix("arn:aws:states:::aws-sdk:").split(":")
    model = botocore.session.get_session().get_service_model(service)
    operation = model.operation_model(action[:1].upper() + action[1:])
    parameters = _resolve(state["Parameters"], _iteration_states(candidate))
    parameters = json.loads(substitute(json.dumps(parameters), EmbeddedStack().substitutions()))

    report = ParamValidator().validate(parameters, operation.input_shape)

    assert not report.has_errors(), report.generate_report()


def test_optimized_integrations_fit_their_api_shapes() -> None:
    session = botocore.session.get_session()
    substitutions = EmbeddedStack().substitutions()
    guard = ASL["States"]["TriggerGuard"]
    data = {
        "guard": {"pk": "ARTIFACT#b/models/x.tar.gz", "sk": "VERSION#1"},
        "Execution": {"Id": "arn:aws:states:::execution:x", "StartTime": "2024-05-01T12:00:00Z"},
    }
    put_item = json.loads(substitute(json.dumps(_resolve(guard["Parameters"], data)), substitutions))
    alert = ASL["States"]["AlertOperators"]
    publish = json.loads(substitute(json.dumps(_resolve(alert["Parameters"], {})), substitutions))

    evaluate = ASL["States"]["EvaluateCandidates"]["ItemProcessor"]["States"]["EvaluateCandidate"]
    iteration = _iteration_states(CANDIDATES[0])
    start = _resolve(
        evaluate["Parameters"], {**iteration, "Execution": {"Id": "arn:aws:states:::execution:x"}}
    )
    start = json.loads(substitute(json.dumps(start), substitutions))
    # The optimized integration takes Input as JSON; the API takes the same document as text.
    start["Input"] = json.dumps(start["Input"])

    for service, action, parameters in [
        ("dynamodb", "PutItem", put_item),
        ("sns", "Publish", publish),
        ("stepfunctions", "StartExecution", {k[:1].lower() + k[1:]: v for k, v in start.items()}),
    ]:
        shape = session.get_service_model(service).operation_model(action).input_shape
        report = ParamValidator().validate(parameters, shape)
        assert not report.has_errors(), report.generate_report()


def test_every_task_of_a_candidate_retries_and_is_caught_into_teardown() -> None:
    for name, state in CANDIDATE["States"].items():
        if state["Type"] not in ("Task", "Map") or name == "Teardown":
            continue
        assert state["Type"] == "Map" or state["Retry"], name
        catchers = state["Catch"]
        assert any(c["ErrorEquals"] == ["States.ALL"] and c["Next"] == "Teardown" for c in catchers), name
        assert all(c["ResultPath"] == "$.error" for c in catchers), name


def test_every_way_out_of_a_candidate_execution_is_a_small_summary() -> None:
    # The run collects one output per candidate; each counts against Step Functions' 256 KB.
    ends = {name: state for name, state in CANDIDATE["States"].items() if state.get("End")}
    assert set(ends) == {"TeardownLeftToSweep", "CandidateDone"}
    for state in ends.values():
        assert state["Type"] == "Pass"
        assert set(state["Parameters"]) <= {"index.$", "name.$", "status", "status.$"}
    iteration = ASL["States"]["EvaluateCandidates"]["ItemProcessor"]["States"]
    for name, state in iteration.items():
        if state.get("End"):
            kept = state.get("ResultSelector") if state["Type"] == "Task" else state.get("Parameters")
            assert kept and set(kept) <= {"index.$", "name.$", "status", "status.$", "error.$"}, name
            assert state.get("ResultPath", "$") == "$", name
    assert ASL["States"]["EvaluateCandidates"]["ResultPath"] is None


def test_a_failed_candidate_execution_fails_only_that_candidate() -> None:
    task = ASL["States"]["EvaluateCandidates"]["ItemProcessor"]["States"]["EvaluateCandidate"]
    assert task["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    (catcher,) = task["Catch"]
    assert catcher["ErrorEquals"] == ["States.ALL"]
    # A retry would restart the candidate under the same execution name: only API errors are retried.
    assert all("States.TaskFailed" not in r["ErrorEquals"] for r in task["Retry"])
    assert (
        "$.run.run_id" in task["Parameters"]["Name.$"] and "$.candidate.index" in task["Parameters"]["Name.$"]
    )


def test_sagemaker_tasks_retry_the_errors_step_functions_names_throttling() -> None:
    service = SERVICE_ERROR_NAMES["sagemaker"]
    for name, state in SERVICE_TASKS:
        retried = {error for retrier in state["Retry"] for error in retrier["ErrorEquals"]}
        # An unmodelled SageMaker error (ThrottlingException) is the SDK's base exception.
        assert f"{service}.{service}Exception" in retried, name
        assert "SageMaker.ResourceLimitExceededException" not in retried, name


def test_lambda_tasks_retry_lambda_service_errors() -> None:
    for name, state in every_state():
        if state.get("Resource") == "arn:aws:states:::lambda:invoke":
            retried = {error for retrier in state["Retry"] for error in retrier["ErrorEquals"]}
            assert retried >= LAMBDA_ERRORS, name


def test_sweep_workers_wait_long_enough_when_reserved_concurrency_throttles_them() -> None:
    worker = CANDIDATE["States"]["SweepWorkers"]["ItemProcessor"]["States"]["LoadWorker"]
    (throttled,) = [r for r in worker["Retry"] if "Lambda.TooManyRequestsException" in r["ErrorEquals"]]
    waits = [
        min(throttled["IntervalSeconds"] * throttled["BackoffRate"] ** n, throttled["MaxDelaySeconds"])
        for n in range(throttled["MaxAttempts"])
    ]
    # Other candidates' workers hold the reserved concurrency for minutes, not seconds.
    assert sum(waits) >= 300


def test_teardown_is_retried_while_incomplete_and_never_fails_the_candidate() -> None:
    states = CANDIDATE["States"]
    for name in ("Teardown", "ReleaseEndpoint"):
        assert any(r["ErrorEquals"] == ["TeardownIncomplete"] for r in states[name]["Retry"]), name
    teardown = states["Teardown"]
    assert [c["ErrorEquals"] for c in teardown["Catch"]] == [["States.ALL"]]
    assert states[teardown["Catch"][0]["Next"]]["Type"] == "Pass"


def test_the_endpoint_is_released_before_the_metrics_wait() -> None:
    states = CANDIDATE["States"]
    assert states["LoadTest"]["Next"] == "WaitForLastMinute"
    assert states["WaitForLastMinute"]["Next"] == "ReleaseEndpoint"
    assert states["ReleaseEndpoint"]["Next"] == "WaitForMetrics"
    assert states["WaitForMetrics"]["Next"] == "CollectMetrics"


def test_every_wait_and_the_concurrency_come_from_the_state_data() -> None:
    waits = [state for _, state in every_state() if state["Type"] == "Wait"]
    assert len(waits) == 3 and all(set(state) & {"Seconds", "Timestamp"} == set() for state in waits)
    # The endpoint and metrics waits are computed by the steps before them; the poll wait is timing.
    assert {state["SecondsPath"] for state in waits} == {
        "$.timing.endpoint_poll_seconds",
        "$.load.release_in_seconds",
        "$.released.metrics_wait_seconds",
    }
    evaluate = ASL["States"]["EvaluateCandidates"]
    assert "MaxConcurrency" not in evaluate
    assert evaluate["MaxConcurrencyPath"] == "$.evaluation.timing.max_concurrency"
    timing_keys = set(Timing.model_fields) | {"endpoint_max_polls"}
    used = set(re.findall(r"\$\.(?:evaluation\.)?timing\.([a-z_]+)", ASL_TEXT + CANDIDATE_TEXT))
    assert used <= timing_keys


def test_every_step_after_the_trigger_guard_has_a_way_to_the_failure_path() -> None:
    outer = ASL["States"]
    for name in ("Prepare", "EvaluateCandidates", "SweepRun", "Recommend", "Report", "Notify"):
        (catcher,) = outer[name]["Catch"]
        assert catcher["ErrorEquals"] == ["States.ALL"]
        label = outer[catcher["Next"]]
        assert label["Type"] == "Pass" and label["Next"] == "RecordFailure"
        assert label["Result"] == name
    assert outer["RecordFailure"]["Next"] == "NotifyFailure"
    assert outer["NotifyFailure"]["Next"] == "RunFailed"
    assert {c["Next"] for c in outer["RecordFailure"]["Catch"]} == {"AlertOperators"}


def test_the_trigger_guard_ends_a_duplicate_quietly() -> None:
    guard = ASL["States"]["TriggerGuard"]
    (catcher,) = guard["Catch"]
    assert catcher["ErrorEquals"] == ["DynamoDB.ConditionalCheckFailedException"]
    assert ASL["States"][catcher["Next"]]["Type"] == "Succeed"
    assert guard["Parameters"]["ConditionExpression"].startswith("attribute_not_exists(PK)")
