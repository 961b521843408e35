"""Amazon States Language rules that Step Functions enforces when it creates a state machine.

statelint and moto (the local executor) accept some definitions that CreateStateMachine refuses with
SCHEMA_VALIDATION_FAILED, and CloudFormation then fails the deploy. `violations` applies the rules the
AWS developer guide and the ASL specification document to every state of a definition, the states of
Map processors and Parallel branches included; `text_violations` checks what only the file's text shows.
Each rule cites its page (DG is https://docs.aws.amazon.com/step-functions/latest/dg/). The project
writes JSONPath definitions, so the JSONata forms are out of scope.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

State = dict[str, Any]

# DG service-quotas.html: "Maximum size of state machine definition: 1 MB" (a hard quota), and
# "Maximum input or output size for a task, state, or execution: 256 KiB".
MAX_DEFINITION_BYTES = 1_048_576
MAX_PAYLOAD_BYTES = 262_144
# The API reference (StateEnteredEventDetails.name) and DG service-quotas.html: at most 80 characters.
MAX_STATE_NAME = 80
# What a `${Placeholder}` becomes once CloudFormation substitutes it: an ARN of about 100 characters.
DEPLOYED_VALUE = (
    "arn:aws:lambda:ap-southeast-2:123456789012:function:infercost-EvaluationPrepareFunction-AbCdEf123456"
)
PLACEHOLDER = re.compile(r"\$\{[A-Za-z0-9_]+\}")

STATE_TYPES = {"Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"}
# ASL spec "Transitions": Choice, Succeed and Fail end or branch by their type, never by Next/End.
NO_TRANSITION_TYPES = {"Choice", "Succeed", "Fail"}
# DG concepts-error-handling.html: Task, Parallel and Map states can have Retry and Catch.
ERROR_HANDLING_TYPES = {"Task", "Parallel", "Map"}
# DG concepts-error-handling.html, "Retrying after an error": the retrier fields and their bounds.
RETRIER_INTEGERS = {
    "IntervalSeconds": (1, 99_999_999),
    "MaxAttempts": (0, 99_999_999),
    # "greater than 0 and less than 31622401"
    "MaxDelaySeconds": (1, 31_622_400),
}
JITTER_STRATEGIES = {"FULL", "NONE"}
# DG state-map-distributed.html: these fields exist only for a Map in DISTRIBUTED mode.
DISTRIBUTED_ONLY = (
    "ItemReader",
    "ResultWriter",
    "ItemBatcher",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
)
EXECUTION_TYPES = {"STANDARD", "EXPRESS"}
# DG state-fail.html: a Fail state allows only Type and Comment of the common state fields. Next and
# End are in the set because _transition already reports them.
FAIL_FIELDS = {"Type", "Comment", "Error", "ErrorPath", "Cause", "CausePath", "Next", "End"}
# DG amazon-states-language-paths.html: the fields whose value is a path into the state's data.
PATH_FIELDS = (
    "InputPath",
    "OutputPath",
    "ResultPath",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCountPath",
    "ErrorPath",
    "CausePath",
)
# DG input-output-inputpath-params.html: null discards the input, result or output.
NULLABLE_PATHS = {"InputPath", "OutputPath", "ResultPath"}
# DG state-fail.html: ErrorPath and CausePath may also be an intrinsic function returning a string.
INTRINSIC_PATHS = {"ErrorPath", "CausePath"}
# DG input-output-inputpath-params.html, input-output-itemselector.html: payload templates.
TEMPLATE_FIELDS = ("Parameters", "ResultSelector", "ItemSelector")
# DG intrinsic-functions.html: every intrinsic function there is.
INTRINSICS = {
    "States.Array",
    "States.ArrayPartition",
    "States.ArrayContains",
    "States.ArrayRange",
    "States.ArrayGetItem",
    "States.ArrayLength",
    "States.ArrayUnique",
    "States.Base64Encode",
    "States.Base64Decode",
    "States.Hash",
    "States.JsonMerge",
    "States.StringToJson",
    "States.JsonToString",
    "States.MathRandom",
    "States.MathAdd",
    "States.StringSplit",
    "States.UUID",
    "States.Format",
}
INTRINSIC_CALL = re.compile(r"(States\.[A-Za-z0-9]+)\(")
# `$`, `$$`, `$.a`, `$$.Map`, `$[0]`; not a `${Placeholder}`, which CloudFormation fills in.
LOOKS_LIKE_PATH = re.compile(r"\$\$?(\.|\[|$)")
# DG state-wait.html: RFC 3339 with an uppercase T, and Z when there is no numeric offset.
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
# ASL spec "Reference Paths": they identify a single node, so no `..`, `@`, `,`, `:`, `?` or `*`.
NOT_IN_REFERENCE_PATH = re.compile(r"\.\.|[@,:?*]")


def scopes(definition: State, prefix: str = "") -> Iterator[tuple[str, State]]:
    """Every StartAt/States object with the path before its states: the definition, processors, branches."""
    yield prefix, definition
    for name, state in definition.get("States", {}).items():
        for field in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(field), dict):
                yield from scopes(state[field], f"{prefix}{name}/{field}/")
        for index, branch in enumerate(state.get("Branches", [])):
            yield from scopes(branch, f"{prefix}{name}/Branches[{index}]/")


def all_states(definition: State) -> Iterator[tuple[str, State]]:
    """Each state with its path, e.g. `EvaluateCandidates/ItemProcessor/Teardown`."""
    for prefix, scope in scopes(definition):
        for name, state in scope.get("States", {}).items():
            yield prefix + name, state


def violations(definition: State) -> list[str]:
    """One message per rule `definition` breaks, each starting with the path of the state or scope."""
    found: list[str] = []
    first_use: dict[str, str] = {}
    for prefix, scope in scopes(definition):
        found += [f"{prefix.removesuffix('/') or 'definition'}: {problem}" for problem in _scope(scope)]
        states = scope.get("States", {})
        for name, state in states.items():
            path = prefix + name
            if len(name) > MAX_STATE_NAME:
                found.append(f"{path}: state name has {len(name)} characters, more than {MAX_STATE_NAME}")
            # The API reports DUPLICATE_STATE_NAME; ASL spec: unique in the whole state machine.
            if name in first_use:
                found.append(f"{path}: state name is already used by {first_use[name]}")
            first_use.setdefault(name, path)
            found += [f"{path}: {problem}" for check in STATE_CHECKS for problem in check(state, states)]
    return found


def text_violations(text: str) -> list[str]:
    """What the file's text breaks: keys repeated in one object, and the deployed definition's size."""
    repeated: list[str] = []

    def note_repeats(pairs: list[tuple[str, Any]]) -> State:
        keys = [key for key, _ in pairs]
        repeated.extend(sorted({key for key in keys if keys.count(key) > 1}))
        return dict(pairs)

    # json.loads keeps the last of two equal keys, so violations() never sees the first state.
    json.loads(text, object_pairs_hook=note_repeats)
    found = [f"key '{key}' appears twice in one object (DUPLICATE_STATE_NAME)" for key in repeated]
    deployed = len(PLACEHOLDER.sub(DEPLOYED_VALUE, text).encode("utf-8"))
    if deployed > MAX_DEFINITION_BYTES:
        found.append(
            f"definition is {deployed} bytes once substituted, over the {MAX_DEFINITION_BYTES} quota"
        )
    return found


def _scope(scope: State) -> list[str]:
    """StartAt resolves (ASL spec "Top-level fields") and a terminal state exists (MISSING_END_STATE)."""
    states = scope.get("States", {})
    found = []
    if scope.get("StartAt") not in states:
        found.append(f"StartAt {scope.get('StartAt')!r} names no state in this scope")
    if not any(s.get("Type") in {"Succeed", "Fail"} or s.get("End") is True for s in states.values()):
        found.append("no terminal state (Succeed, Fail or End: true)")
    return found


def _transition(state: State, states: dict[str, State]) -> list[str]:
    """A known Type, and Next or End as the ASL spec and DG statemachine-structure.html require."""
    kind = state.get("Type")
    if kind not in STATE_TYPES:
        return [f"Type {kind!r} is not a state type"]
    if kind in NO_TRANSITION_TYPES:
        return [f"a {kind} state cannot have {field}" for field in ("Next", "End") if field in state]
    found = []
    if ("Next" in state) == ("End" in state):
        found.append("needs exactly one of Next or End")
    if "End" in state and state["End"] is not True:
        found.append("End must be true")
    if "Next" in state and state["Next"] not in states:
        found.append(f"Next {state['Next']!r} names no state in this scope")
    return found


def _error_equals(field: str, entries: list[State]) -> list[str]:
    """DG concepts-error-handling.html: a non-empty ErrorEquals, States.ALL alone and last."""
    found = []
    for index, entry in enumerate(entries):
        where = f"{field}[{index}]"
        errors = entry.get("ErrorEquals")
        if not isinstance(errors, list) or not errors:
            found.append(f"{where} needs a non-empty ErrorEquals")
        elif "States.ALL" in errors:
            if len(errors) > 1:
                found.append(f"{where} ErrorEquals: States.ALL must appear alone")
            if index != len(entries) - 1:
                found.append(f"{where} has States.ALL, which must be in the last entry of {field}")
    return found


def _retry(state: State, states: dict[str, State]) -> list[str]:
    """DG concepts-error-handling.html, "Retrying after an error": each retrier field in range."""
    if "Retry" not in state:
        return []
    if state.get("Type") not in ERROR_HANDLING_TYPES:
        return [f"a {state.get('Type')} state cannot have Retry"]
    found = _error_equals("Retry", state["Retry"])
    for index, retrier in enumerate(state["Retry"]):
        where = f"Retry[{index}]"
        for field, (low, high) in RETRIER_INTEGERS.items():
            if field in retrier and not (_is_int(retrier[field]) and low <= retrier[field] <= high):
                found.append(f"{where} {field} must be an integer from {low} to {high}")
        # DG example "BackoffRate": 1; ASL spec: "MUST be greater than or equal to 1.0".
        if "BackoffRate" in retrier and not (
            _is_number(retrier["BackoffRate"]) and retrier["BackoffRate"] >= 1
        ):
            found.append(f"{where} BackoffRate must be a number of at least 1.0")
        if "JitterStrategy" in retrier and retrier["JitterStrategy"] not in JITTER_STRATEGIES:
            found.append(f"{where} JitterStrategy must be FULL or NONE")
    return found


def _catch(state: State, states: dict[str, State]) -> list[str]:
    """DG concepts-error-handling.html, "Fallback states": each catcher goes to a state of this scope.

    States.ALL does not catch States.DataLimitExceeded nor States.Runtime; naming them is allowed.
    """
    if "Catch" not in state:
        return []
    if state.get("Type") not in ERROR_HANDLING_TYPES:
        return [f"a {state.get('Type')} state cannot have Catch"]
    found = _error_equals("Catch", state["Catch"])
    for index, catcher in enumerate(state["Catch"]):
        if catcher.get("Next") not in states:
            found.append(f"Catch[{index}] Next {catcher.get('Next')!r} names no state in this scope")
        if "ResultPath" in catcher:
            found += [f"Catch[{index}] {p}" for p in _path_problems("ResultPath", catcher["ResultPath"])]
    return found


def _task(state: State, states: dict[str, State]) -> list[str]:
    """DG state-task.html: a Resource, and timeouts that are positive integers, literal or path."""
    if state.get("Type") != "Task":
        return []
    found = [] if isinstance(state.get("Resource"), str) and state["Resource"] else ["needs a Resource"]
    for field in ("TimeoutSeconds", "HeartbeatSeconds"):
        if field in state and not (_is_int(state[field]) and state[field] > 0):
            found.append(f"{field} must be a positive integer")
        if field in state and f"{field}Path" in state:
            found.append(f"cannot have both {field} and {field}Path")
    timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
    if _is_int(timeout) and _is_int(heartbeat) and heartbeat >= timeout:
        found.append("HeartbeatSeconds must be less than TimeoutSeconds")
    return found


def _wait(state: State, states: dict[str, State]) -> list[str]:
    """DG state-wait.html: exactly one of the four waits; Seconds from 0 to 99999999."""
    if state.get("Type") != "Wait":
        return []
    waits = [field for field in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if field in state]
    found = (
        []
        if len(waits) == 1
        else [f"needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath, has {waits}"]
    )
    if "Seconds" in state and not (_is_int(state["Seconds"]) and 0 <= state["Seconds"] <= 99_999_999):
        found.append("Seconds must be an integer from 0 to 99999999")
    if "Timestamp" in state and not (
        isinstance(state["Timestamp"], str) and TIMESTAMP.fullmatch(state["Timestamp"])
    ):
        found.append("Timestamp must be RFC 3339 with an uppercase T and Z, e.g. 2024-08-18T17:33:00Z")
    return found


def _map(state: State, states: dict[str, State]) -> list[str]:
    """DG state-map-inline.html and state-map-distributed.html: the processor and the fields of each mode."""
    if state.get("Type") != "Map":
        return []
    found = []
    if ("ItemProcessor" in state) == ("Iterator" in state):
        found.append("needs exactly one of ItemProcessor or Iterator (deprecated)")
    config = state.get("ItemProcessor", {}).get("ProcessorConfig", {})
    mode = config.get("Mode", "INLINE")
    if mode == "INLINE":
        found += [f"an INLINE Map cannot have {field}" for field in DISTRIBUTED_ONLY if field in state]
        if "ExecutionType" in config:
            found.append("an INLINE Map cannot have ProcessorConfig ExecutionType")
    elif mode == "DISTRIBUTED":
        if config.get("ExecutionType") not in EXECUTION_TYPES:
            found.append("a DISTRIBUTED Map needs ProcessorConfig ExecutionType STANDARD or EXPRESS")
    else:
        found.append(f"ProcessorConfig Mode {mode!r} must be INLINE or DISTRIBUTED")
    for field in ("MaxConcurrency", "ToleratedFailurePercentage", "ToleratedFailureCount"):
        if field in state and f"{field}Path" in state:
            found.append(f"cannot have both {field} and {field}Path")
    for field in ("MaxConcurrency", "ToleratedFailureCount"):
        if field in state and not (_is_int(state[field]) and state[field] >= 0):
            found.append(f"{field} must be a non-negative integer")
    percentage = state.get("ToleratedFailurePercentage", 0)
    if not (_is_number(percentage) and 0 <= percentage <= 100):
        found.append("ToleratedFailurePercentage must be a number from 0 to 100")
    # DG input-output-itemselector.html: ItemSelector replaces a Map's Parameters.
    if "Parameters" in state and "ItemSelector" in state:
        found.append("cannot have both Parameters and ItemSelector")
    return found


def _fail(state: State, states: dict[str, State]) -> list[str]:
    """DG state-fail.html: Error or ErrorPath, Cause or CausePath, and no other common field."""
    if state.get("Type") != "Fail":
        return []
    found = [
        f"cannot have both {field} and {field}Path"
        for field in ("Error", "Cause")
        if {field, f"{field}Path"} <= set(state)
    ]
    found += [f"a Fail state cannot have {field}" for field in state if field not in FAIL_FIELDS]
    return found


def _choice(state: State, states: dict[str, State]) -> list[str]:
    """DG state-choice.html: Choices whose rules go to states of this scope, and a Default that does."""
    if state.get("Type") != "Choice":
        return []
    rules = state.get("Choices")
    if not isinstance(rules, list) or not rules:
        return ["needs a non-empty Choices"]
    found = []
    for index, rule in enumerate(rules):
        if rule.get("Next") not in states:
            found.append(f"Choices[{index}] Next {rule.get('Next')!r} names no state in this scope")
        found += [f"Choices[{index}] {problem}" for problem in _rule_paths(rule)]
    if "Default" in state and state["Default"] not in states:
        found.append(f"Default {state['Default']!r} names no state in this scope")
    return found


def _rule_paths(rule: State) -> list[str]:
    """Variable and the ...Path comparators of a choice rule and of its nested And/Or/Not rules."""
    found = []
    for field, value in rule.items():
        if field == "Variable" or field.endswith("Path"):
            found += _path_problems(field, value)
        elif field in ("And", "Or"):
            found += [problem for nested in value for problem in _rule_paths(nested)]
        elif field == "Not":
            found += _rule_paths(value)
    return found


def _paths(state: State, states: dict[str, State]) -> list[str]:
    """DG amazon-states-language-paths.html: every path field holds a path (ResultPath a reference path)."""
    return [
        problem for field in PATH_FIELDS if field in state for problem in _path_problems(field, state[field])
    ]


def _path_problems(field: str, value: Any) -> list[str]:
    if value is None and field in NULLABLE_PATHS:
        return []
    if field in INTRINSIC_PATHS and isinstance(value, str) and INTRINSIC_CALL.match(value):
        return _intrinsic_problems(value)
    if not isinstance(value, str) or not value.startswith("$"):
        return [f"{field} {value!r} must be a path starting with $"]
    # ASL spec "ResultPath": a reference path into the state's input, never the context object.
    if field == "ResultPath" and (value.startswith("$$") or NOT_IN_REFERENCE_PATH.search(value)):
        return [
            f"ResultPath {value!r} must be a reference path into the input ($..., no $$, * ? @ , : or ..)"
        ]
    return []


def _templates(state: State, states: dict[str, State]) -> list[str]:
    """DG input-output-inputpath-params.html, intrinsic-functions.html: `.$` keys take a path or intrinsic."""
    return [
        problem for field in TEMPLATE_FIELDS if field in state for problem in _template(field, state[field])
    ]


def _template(where: str, template: Any) -> list[str]:
    if isinstance(template, list):
        return [
            problem for index, item in enumerate(template) for problem in _template(f"{where}[{index}]", item)
        ]
    if not isinstance(template, dict):
        return []
    found = []
    for key, value in template.items():
        field = f"{where}.{key}"
        if key.endswith(".$"):
            if not isinstance(value, str) or not (value.startswith("$") or INTRINSIC_CALL.match(value)):
                found.append(f"{field} {value!r} must be a path starting with $ or an intrinsic function")
            elif INTRINSIC_CALL.match(value):
                found += [f"{field} {problem}" for problem in _intrinsic_problems(value)]
        # Only a NO_DOLLAR warning at creation, but the task then gets the path or the call as text.
        elif isinstance(value, str) and (LOOKS_LIKE_PATH.match(value) or INTRINSIC_CALL.match(value)):
            found.append(f"{field} {value!r} is sent as literal text: its key must end in .$")
        else:
            found += _template(field, value)
    return found


def _intrinsic_problems(call: str) -> list[str]:
    unknown = sorted(set(INTRINSIC_CALL.findall(call)) - INTRINSICS)
    return [f"calls {name}, which is no intrinsic function" for name in unknown]


def _payload(state: State, states: dict[str, State]) -> list[str]:
    """DG service-quotas.html: a static payload over 256 KiB always fails with States.DataLimitExceeded."""
    found = []
    for field in ("Result", *TEMPLATE_FIELDS):
        size = len(json.dumps(state.get(field)).encode("utf-8"))
        if size > MAX_PAYLOAD_BYTES:
            found.append(f"{field} is {size} bytes, over the {MAX_PAYLOAD_BYTES}-byte state payload quota")
    return found


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


STATE_CHECKS: tuple[Callable[[State, dict[str, State]], list[str]], ...] = (
    _transition,
    _retry,
    _catch,
    _task,
    _wait,
    _map,
    _fail,
    _choice,
    _paths,
    _templates,
    _payload,
)
