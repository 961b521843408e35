"""The rules Step Functions enforces when it creates a state machine, on every definition we deploy.

statelint (test_asl.py) and moto accept definitions that CreateStateMachine refuses; tests/asl_rules.py
encodes the documented rules. Each rule is shown to fail on a crafted definition, so a clean result on
the real ones means something.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.asl_rules import DEPLOYED_VALUE, text_violations, violations

STATEMACHINE = Path(__file__).resolve().parents[2] / "statemachine"
DEFINITIONS = sorted(STATEMACHINE.glob("*.asl.json"))


@pytest.mark.parametrize("path", DEFINITIONS, ids=[p.name for p in DEFINITIONS])
def test_every_definition_keeps_the_rules_step_functions_checks_at_creation(path: Path) -> None:
    text = path.read_text(encoding="utf-8")

    assert text_violations(text) + violations(json.loads(text)) == []


# RecordFailure as it was when AWS refused the definition at creation ("States.ALL must appear
# alone and at end of list"), kept verbatim in its shape: statelint and moto both accepted it.
FIELD_RECORD_FAILURE = {
    "Type": "Task",
    "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": "${JanitorFunctionArn}", "Payload": {"action": "fail", "state.$": "$"}},
    "ResultPath": "$.failure",
    "Retry": [
        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 2.0},
        {
            "ErrorEquals": ["Lambda.ServiceException", "Lambda.TooManyRequestsException"],
            "IntervalSeconds": 1,
            "MaxAttempts": 3,
            "BackoffRate": 2.0,
        },
    ],
    "End": True,
}


def test_the_deploy_blocker_found_in_the_field_is_caught() -> None:
    """RecordFailure retried States.ALL before the Lambda errors; AWS refused it at creation."""
    definition = {"StartAt": "RecordFailure", "States": {"RecordFailure": FIELD_RECORD_FAILURE}}

    assert "RecordFailure: Retry[0] has States.ALL, which must be in the last entry of Retry" in violations(
        definition
    )


def good() -> dict[str, Any]:
    """A definition with every state type and both Map modes that keeps every rule; a new copy per call."""
    return {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": "${WorkFunctionArn}",
                    "Payload.$": "$",
                    "Id.$": "States.Format('run-{}', $.id)",
                },
                "ResultSelector": {"out.$": "$.Payload"},
                "ResultPath": "$.work",
                "TimeoutSeconds": 60,
                "HeartbeatSeconds": 30,
                "Retry": [
                    {
                        "ErrorEquals": ["Lambda.ServiceException", "Lambda.TooManyRequestsException"],
                        "IntervalSeconds": 1,
                        "MaxAttempts": 3,
                        "BackoffRate": 2.0,
                        "MaxDelaySeconds": 10,
                        "JitterStrategy": "FULL",
                    },
                    {"ErrorEquals": ["States.ALL"], "MaxAttempts": 0},
                ],
                "Catch": [
                    # Documented as beyond States.ALL: naming them is how to catch them.
                    {"ErrorEquals": ["States.DataLimitExceeded", "States.Runtime"], "Next": "Failed"},
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"},
                ],
                "Next": "Pause",
            },
            "Pause": {"Type": "Wait", "SecondsPath": "$.pause", "Next": "Items"},
            "Items": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 2,
                "ItemSelector": {"item.$": "$$.Map.Item.Value", "size": 10},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Each",
                    "States": {
                        "Each": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": "${EachFunctionArn}", "Payload.$": "$.item"},
                            "Retry": [{"ErrorEquals": ["States.TaskFailed"], "BackoffRate": 1}],
                            "End": True,
                        }
                    },
                },
                "ResultPath": None,
                "Next": "Fleet",
            },
            "Fleet": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:listObjectsV2",
                    "Parameters": {"Bucket.$": "$.bucket"},
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "Item",
                    "States": {"Item": {"Type": "Pass", "Result": {"seen": True}, "End": True}},
                },
                "MaxConcurrencyPath": "$.fleet.concurrency",
                "ToleratedFailurePercentage": 5,
                "ResultPath": None,
                "Next": "Both",
            },
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Left", "States": {"Left": {"Type": "Wait", "Seconds": 0, "End": True}}},
                    {
                        "StartAt": "Right",
                        "States": {
                            "Right": {"Type": "Wait", "Timestamp": "2024-08-18T17:33:00Z", "End": True}
                        },
                    },
                ],
                "OutputPath": "$[0]",
                "Next": "Done?",
            },
            "Done?": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.done", "IsPresent": True},
                            {"Not": {"Variable": "$.done", "BooleanEqualsPath": "$.expected"}},
                        ],
                        "Next": "Failed",
                    },
                    {"Variable": "$.done", "BooleanEquals": True, "Next": "Done"},
                ],
                "Default": "Failed",
            },
            "Done": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "Error": "Failed", "CausePath": "States.Format('{}', $.error.Cause)"},
        },
    }


Mutation = Callable[[dict[str, Any]], object]


def top(d: dict[str, Any]) -> dict[str, Any]:
    """The top-level states."""
    return d["States"]


def inside(d: dict[str, Any], name: str) -> dict[str, Any]:
    """The states of the Map `name`'s processor."""
    return d["States"][name]["ItemProcessor"]["States"]


def branch(d: dict[str, Any], index: int) -> dict[str, Any]:
    """A branch of the Parallel state."""
    return d["States"]["Both"]["Branches"][index]


def work(d: dict[str, Any]) -> dict[str, Any]:
    return top(d)["Work"]


def fleet_config(d: dict[str, Any]) -> dict[str, Any]:
    return top(d)["Fleet"]["ItemProcessor"]["ProcessorConfig"]


def loop_forever(d: dict[str, Any]) -> None:
    """The first branch's only state waits, then goes back to itself."""
    left = branch(d, 0)["States"]["Left"]
    del left["End"]
    left["Next"] = "Left"


def end_false(d: dict[str, Any]) -> None:
    """Pause ends, but with End false."""
    pause = top(d)["Pause"]
    del pause["Next"]
    pause["End"] = False


def result_writer_on_a_default_map(d: dict[str, Any]) -> None:
    """Without ProcessorConfig a Map is INLINE."""
    items = top(d)["Items"]
    del items["ItemProcessor"]["ProcessorConfig"]
    items["ResultWriter"] = {"WriterConfig": {"OutputType": "JSON"}}


RETRY_AND_CATCH: list[tuple[str, Mutation, str, str]] = [
    ("retry-all-before-others", lambda d: work(d)["Retry"].reverse(), "Work", "Retry[0] has States.ALL"),
    (
        "retry-all-not-alone",
        lambda d: work(d)["Retry"][1]["ErrorEquals"].append("Lambda.Unknown"),
        "Work",
        "Retry[1] ErrorEquals: States.ALL must appear alone",
    ),
    (
        "retry-no-errors",
        lambda d: work(d)["Retry"][0]["ErrorEquals"].clear(),
        "Work",
        "Retry[0] needs a non-empty",
    ),
    (
        "retry-no-error-equals",
        lambda d: work(d)["Retry"][0].pop("ErrorEquals"),
        "Work",
        "Retry[0] needs a non-empty",
    ),
    ("catch-all-before-others", lambda d: work(d)["Catch"].reverse(), "Work", "Catch[0] has States.ALL"),
    (
        "catch-all-not-alone",
        lambda d: work(d)["Catch"][1]["ErrorEquals"].insert(0, "States.Timeout"),
        "Work",
        "Catch[1] ErrorEquals: States.ALL must appear alone",
    ),
    (
        "catch-no-errors",
        lambda d: work(d)["Catch"][0]["ErrorEquals"].clear(),
        "Work",
        "Catch[0] needs a non-empty",
    ),
    (
        "catch-without-next",
        lambda d: work(d)["Catch"][0].pop("Next"),
        "Work",
        "Catch[0] Next None names no state",
    ),
    (
        "catch-next-in-another-scope",
        lambda d: work(d)["Catch"][1].update(Next="Each"),
        "Work",
        "Catch[1] Next 'Each' names no state",
    ),
    (
        "catch-result-path-not-a-path",
        lambda d: work(d)["Catch"][1].update(ResultPath="error"),
        "Work",
        "Catch[1] ResultPath 'error' must be a path",
    ),
    (
        "interval-zero",
        lambda d: work(d)["Retry"][0].update(IntervalSeconds=0),
        "Work",
        "IntervalSeconds must",
    ),
    (
        "interval-fraction",
        lambda d: work(d)["Retry"][0].update(IntervalSeconds=1.5),
        "Work",
        "IntervalSeconds must",
    ),
    (
        "interval-too-long",
        lambda d: work(d)["Retry"][0].update(IntervalSeconds=100_000_000),
        "Work",
        "Retry[0] IntervalSeconds must be an integer from 1 to 99999999",
    ),
    ("attempts-negative", lambda d: work(d)["Retry"][0].update(MaxAttempts=-1), "Work", "MaxAttempts must"),
    (
        "attempts-too-many",
        lambda d: work(d)["Retry"][0].update(MaxAttempts=100_000_000),
        "Work",
        "Retry[0] MaxAttempts must be an integer from 0 to 99999999",
    ),
    (
        "backoff-below-one",
        lambda d: work(d)["Retry"][0].update(BackoffRate=0.5),
        "Work",
        "Retry[0] BackoffRate must be a number of at least 1.0",
    ),
    (
        "backoff-not-a-number",
        lambda d: work(d)["Retry"][0].update(BackoffRate="2"),
        "Work",
        "BackoffRate must",
    ),
    (
        "max-delay-zero",
        lambda d: work(d)["Retry"][0].update(MaxDelaySeconds=0),
        "Work",
        "MaxDelaySeconds must",
    ),
    (
        "max-delay-too-long",
        lambda d: work(d)["Retry"][0].update(MaxDelaySeconds=31_622_401),
        "Work",
        "Retry[0] MaxDelaySeconds must be an integer from 1 to 31622400",
    ),
    (
        "jitter-lower-case",
        lambda d: work(d)["Retry"][0].update(JitterStrategy="full"),
        "Work",
        "Retry[0] JitterStrategy must be FULL or NONE",
    ),
    (
        "retry-on-a-wait",
        lambda d: top(d)["Pause"].update(Retry=[{"ErrorEquals": ["States.ALL"]}]),
        "Pause",
        "a Wait state cannot have Retry",
    ),
    (
        "catch-on-a-pass",
        lambda d: inside(d, "Fleet")["Item"].update(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Item"}]),
        "Fleet/ItemProcessor/Item",
        "a Pass state cannot have Catch",
    ),
]

STRUCTURE: list[tuple[str, Mutation, str, str]] = [
    (
        "start-at-unknown",
        lambda d: d.update(StartAt="Nowhere"),
        "definition",
        "StartAt 'Nowhere' names no state",
    ),
    (
        "processor-start-at-unknown",
        lambda d: d["States"]["Items"]["ItemProcessor"].update(StartAt="Work"),
        "Items/ItemProcessor",
        "StartAt 'Work' names no state in this scope",
    ),
    (
        "no-terminal-state",
        loop_forever,
        "Both/Branches[0]",
        "no terminal state",
    ),
    (
        "name-too-long",
        lambda d: branch(d, 1).update(StartAt="R" * 81, States={"R" * 81: {"Type": "Succeed"}}),
        "Both/Branches[1]/" + "R" * 81,
        "state name has 81 characters, more than 80",
    ),
    (
        "name-used-twice",
        lambda d: branch(d, 1).update(StartAt="Work", States={"Work": {"Type": "Succeed"}}),
        "Both/Branches[1]/Work",
        "state name is already used by Work",
    ),
    (
        "unknown-type",
        lambda d: top(d)["Pause"].update(Type="Sleep"),
        "Pause",
        "Type 'Sleep' is not a state type",
    ),
    (
        "next-unknown",
        lambda d: top(d)["Pause"].update(Next="Nowhere"),
        "Pause",
        "Next 'Nowhere' names no state",
    ),
    ("next-and-end", lambda d: top(d)["Pause"].update(End=True), "Pause", "needs exactly one of Next or End"),
    (
        "neither-next-nor-end",
        lambda d: top(d)["Pause"].pop("Next"),
        "Pause",
        "needs exactly one of Next or End",
    ),
    (
        "end-false",
        end_false,
        "Pause",
        "End must be true",
    ),
    (
        "choice-with-next",
        lambda d: top(d)["Done?"].update(Next="Done"),
        "Done?",
        "a Choice state cannot have Next",
    ),
    (
        "succeed-with-end",
        lambda d: top(d)["Done"].update(End=True),
        "Done",
        "a Succeed state cannot have End",
    ),
    ("choice-no-rules", lambda d: top(d)["Done?"].update(Choices=[]), "Done?", "needs a non-empty Choices"),
    (
        "choice-rule-next-unknown",
        lambda d: top(d)["Done?"]["Choices"][1].update(Next="Nowhere"),
        "Done?",
        "Choices[1] Next 'Nowhere' names no state",
    ),
    (
        "choice-default-unknown",
        lambda d: top(d)["Done?"].update(Default="Nowhere"),
        "Done?",
        "Default 'Nowhere' names no state",
    ),
]

STATE_FIELDS: list[tuple[str, Mutation, str, str]] = [
    ("task-no-resource", lambda d: work(d).pop("Resource"), "Work", "needs a Resource"),
    (
        "timeout-zero",
        lambda d: work(d).update(TimeoutSeconds=0),
        "Work",
        "TimeoutSeconds must be a positive integer",
    ),
    (
        "heartbeat-fraction",
        lambda d: work(d).update(HeartbeatSeconds=1.5),
        "Work",
        "HeartbeatSeconds must be a positive integer",
    ),
    (
        "timeout-and-path",
        lambda d: work(d).update(TimeoutSecondsPath="$.timeout"),
        "Work",
        "cannot have both TimeoutSeconds and TimeoutSecondsPath",
    ),
    (
        "heartbeat-and-path",
        lambda d: work(d).update(HeartbeatSecondsPath="$.heartbeat"),
        "Work",
        "cannot have both HeartbeatSeconds and HeartbeatSecondsPath",
    ),
    (
        "heartbeat-not-below-timeout",
        lambda d: work(d).update(HeartbeatSeconds=60),
        "Work",
        "HeartbeatSeconds must be less than TimeoutSeconds",
    ),
    ("wait-two-ways", lambda d: top(d)["Pause"].update(Seconds=5), "Pause", "needs exactly one of Seconds"),
    ("wait-no-way", lambda d: top(d)["Pause"].pop("SecondsPath"), "Pause", "needs exactly one of Seconds"),
    (
        "wait-negative",
        lambda d: branch(d, 0)["States"]["Left"].update(Seconds=-1),
        "Both/Branches[0]/Left",
        "Seconds must be an integer from 0 to 99999999",
    ),
    (
        "wait-fraction",
        lambda d: branch(d, 0)["States"]["Left"].update(Seconds=0.5),
        "Both/Branches[0]/Left",
        "Seconds must be an integer",
    ),
    (
        "wait-timestamp-without-zone",
        lambda d: branch(d, 1)["States"]["Right"].update(Timestamp="2024-08-18 17:33:00"),
        "Both/Branches[1]/Right",
        "Timestamp must be RFC 3339",
    ),
    (
        "fail-error-and-path",
        lambda d: top(d)["Failed"].update(ErrorPath="$.e"),
        "Failed",
        "both Error and ErrorPath",
    ),
    (
        "fail-cause-and-path",
        lambda d: top(d)["Failed"].update(Cause="x"),
        "Failed",
        "both Cause and CausePath",
    ),
    (
        "fail-with-result-path",
        lambda d: top(d)["Failed"].update(ResultPath="$.x"),
        "Failed",
        "a Fail state cannot have ResultPath",
    ),
]

MAPS: list[tuple[str, Mutation, str, str]] = [
    (
        "processor-and-iterator",
        lambda d: top(d)["Items"].update(
            Iterator={"StartAt": "Other", "States": {"Other": {"Type": "Succeed"}}}
        ),
        "Items",
        "needs exactly one of ItemProcessor or Iterator",
    ),
    (
        "no-processor",
        lambda d: top(d)["Items"].pop("ItemProcessor"),
        "Items",
        "needs exactly one of ItemProcessor",
    ),
    (
        "unknown-mode",
        lambda d: fleet_config(d).update(Mode="PARALLEL"),
        "Fleet",
        "ProcessorConfig Mode 'PARALLEL' must be INLINE or DISTRIBUTED",
    ),
    (
        "inline-with-execution-type",
        lambda d: top(d)["Items"]["ItemProcessor"]["ProcessorConfig"].update(ExecutionType="STANDARD"),
        "Items",
        "an INLINE Map cannot have ProcessorConfig ExecutionType",
    ),
    (
        "inline-with-item-reader",
        lambda d: top(d)["Items"].update(ItemReader=top(d)["Fleet"]["ItemReader"]),
        "Items",
        "an INLINE Map cannot have ItemReader",
    ),
    (
        "inline-by-default-with-result-writer",
        result_writer_on_a_default_map,
        "Items",
        "an INLINE Map cannot have ResultWriter",
    ),
    (
        "inline-with-item-batcher",
        lambda d: top(d)["Items"].update(ItemBatcher={"MaxItemsPerBatch": 10}),
        "Items",
        "an INLINE Map cannot have ItemBatcher",
    ),
    (
        "inline-with-tolerated-failures",
        lambda d: top(d)["Items"].update(ToleratedFailureCount=1),
        "Items",
        "an INLINE Map cannot have ToleratedFailureCount",
    ),
    (
        "distributed-without-execution-type",
        lambda d: fleet_config(d).pop("ExecutionType"),
        "Fleet",
        "a DISTRIBUTED Map needs ProcessorConfig ExecutionType STANDARD or EXPRESS",
    ),
    (
        "distributed-unknown-execution-type",
        lambda d: fleet_config(d).update(ExecutionType="SYNC"),
        "Fleet",
        "needs ProcessorConfig ExecutionType",
    ),
    (
        "concurrency-and-path",
        lambda d: top(d)["Items"].update(MaxConcurrencyPath="$.n"),
        "Items",
        "cannot have both MaxConcurrency and MaxConcurrencyPath",
    ),
    (
        "concurrency-negative",
        lambda d: top(d)["Items"].update(MaxConcurrency=-1),
        "Items",
        "MaxConcurrency must be a non-negative integer",
    ),
    (
        "parameters-and-item-selector",
        lambda d: top(d)["Items"].update(Parameters={"item.$": "$$.Map.Item.Value"}),
        "Items",
        "cannot have both Parameters and ItemSelector",
    ),
    (
        "tolerated-percentage-over-100",
        lambda d: top(d)["Fleet"].update(ToleratedFailurePercentage=101),
        "Fleet",
        "ToleratedFailurePercentage must be a number from 0 to 100",
    ),
    (
        "tolerated-percentage-and-path",
        lambda d: top(d)["Fleet"].update(ToleratedFailurePercentagePath="$.p"),
        "Fleet",
        "cannot have both ToleratedFailurePercentage and ToleratedFailurePercentagePath",
    ),
    (
        "tolerated-count-negative",
        lambda d: top(d)["Fleet"].update(ToleratedFailureCount=-1),
        "Fleet",
        "ToleratedFailureCount must be a non-negative integer",
    ),
]

DATA: list[tuple[str, Mutation, str, str]] = [
    (
        "result-path-not-a-path",
        lambda d: work(d).update(ResultPath="work"),
        "Work",
        "ResultPath 'work' must be a path",
    ),
    (
        "result-path-into-context",
        lambda d: work(d).update(ResultPath="$$.Execution.work"),
        "Work",
        "must be a reference path",
    ),
    (
        "result-path-wildcard",
        lambda d: work(d).update(ResultPath="$.a[*]"),
        "Work",
        "must be a reference path",
    ),
    (
        "input-path-not-a-path",
        lambda d: work(d).update(InputPath="input"),
        "Work",
        "InputPath 'input' must be a path",
    ),
    (
        "items-path-null",
        lambda d: top(d)["Items"].update(ItemsPath=None),
        "Items",
        "ItemsPath None must be a path",
    ),
    (
        "seconds-path-not-a-path",
        lambda d: top(d)["Pause"].update(SecondsPath="pause"),
        "Pause",
        "SecondsPath 'pause' must be a path",
    ),
    (
        "cause-path-unknown-intrinsic",
        lambda d: top(d)["Failed"].update(CausePath="States.Formatt('{}', $.e)"),
        "Failed",
        "calls States.Formatt, which is no intrinsic function",
    ),
    (
        "choice-variable-not-a-path",
        lambda d: top(d)["Done?"]["Choices"][1].update(Variable="done"),
        "Done?",
        "Choices[1] Variable 'done' must be a path",
    ),
    (
        "nested-choice-path-not-a-path",
        lambda d: top(d)["Done?"]["Choices"][0]["And"][1]["Not"].update(BooleanEqualsPath="expected"),
        "Done?",
        "Choices[0] BooleanEqualsPath 'expected' must be a path",
    ),
    (
        "dollar-key-with-text",
        lambda d: work(d)["Parameters"].update({"Payload.$": "payload"}),
        "Work",
        "Parameters.Payload.$ 'payload' must be a path starting with $ or an intrinsic function",
    ),
    (
        "dollar-key-with-number",
        lambda d: work(d)["ResultSelector"].update({"out.$": 1}),
        "Work",
        "ResultSelector.out.$ 1 must be a path",
    ),
    (
        "unknown-intrinsic",
        lambda d: work(d)["Parameters"].update({"Id.$": "States.Fromat('{}', $.id)"}),
        "Work",
        "Parameters.Id.$ calls States.Fromat, which is no intrinsic function",
    ),
    (
        "path-without-dollar-key",
        lambda d: top(d)["Items"]["ItemSelector"].update({"value": "$$.Map.Item.Value"}),
        "Items",
        "ItemSelector.value '$$.Map.Item.Value' is sent as literal text: its key must end in .$",
    ),
    (
        "nested-intrinsic-without-dollar-key",
        lambda d: work(d)["Parameters"].update(Extra={"ids": [{"id": "States.UUID()"}]}),
        "Work",
        "Parameters.Extra.ids[0].id 'States.UUID()' is sent as literal text",
    ),
    (
        "result-over-the-payload-quota",
        lambda d: inside(d, "Fleet")["Item"].update(Result="x" * 262_144),
        "Fleet/ItemProcessor/Item",
        "Result is 262146 bytes, over the 262144-byte state payload quota",
    ),
]

CASES = RETRY_AND_CATCH + STRUCTURE + STATE_FIELDS + MAPS + DATA


def test_the_crafted_definition_keeps_every_rule() -> None:
    assert violations(good()) == []
    assert text_violations(json.dumps(good())) == []


@pytest.mark.parametrize(("break_rule", "path", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule_reports_the_state_that_breaks_it(break_rule: Mutation, path: str, message: str) -> None:
    definition = good()
    break_rule(definition)

    found = violations(definition)

    assert found and all(m.startswith(f"{path}: ") for m in found), found
    assert any(message in m for m in found), found


def test_a_key_repeated_in_one_object_is_reported() -> None:
    """json.load keeps the last of two states of one name, so only the text shows the first."""
    text = '{"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "A": {"Type": "Fail"}}}'

    assert text_violations(text) == ["key 'A' appears twice in one object (DUPLICATE_STATE_NAME)"]


def test_the_definition_size_counts_the_substituted_arns() -> None:
    """10,000 placeholders fit in 312 KB of file but take 1.1 MB once CloudFormation writes the ARNs."""
    definition, smaller = good(), good()
    work(definition)["Parameters"]["Extra"] = {f"k{i:04}": "${WorkFunctionArn}" for i in range(10_000)}
    work(smaller)["Parameters"]["Extra"] = {f"k{i:04}": "${WorkFunctionArn}" for i in range(9_000)}
    text = json.dumps(definition)
    deployed = len(
        text.replace("${WorkFunctionArn}", DEPLOYED_VALUE).replace("${EachFunctionArn}", DEPLOYED_VALUE)
    )

    assert len(text) < 400_000
    assert text_violations(text) == [
        f"definition is {deployed} bytes once substituted, over the 1048576 quota"
    ]
    assert text_violations(json.dumps(smaller)) == []
