"""One function per handler, each with a row in FUNCTION_SPECS, or synthesis says what's missing."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infercost.domain.errors import InputError
from infercost.handlers import HANDLERS, JANITOR
from tests.infra.cdk_support import ROOT, TEST_CONTEXT, resources_of

pytestmark = pytest.mark.infra


def test_every_handler_and_the_janitor_have_a_spec() -> None:
    from infra.constructs.functions import FUNCTION_SPECS, function_names

    assert set(function_names().values()) == set(HANDLERS.values()) | {JANITOR}
    assert set(FUNCTION_SPECS) == set(HANDLERS.values()) | {JANITOR}
    for module, spec in FUNCTION_SPECS.items():
        assert spec.grants, f"{module} needs at least one grant"
        assert 128 <= spec.memory_mb <= 10240
        assert 1 <= spec.timeout_seconds <= 900


def test_function_names_follow_the_state_names() -> None:
    from infra.constructs.functions import function_names

    names = function_names()
    assert names["PrepareFunction"] == "prepare"
    assert names["CollectMetricsFunction"] == "collect_metrics"
    assert names["JanitorFunction"] == JANITOR


def test_a_handler_without_a_spec_names_itself_and_where_to_add_it() -> None:
    from infra.constructs.functions import FUNCTION_SPECS, check_specs

    with pytest.raises(InputError) as raised:
        check_specs(["prepare", "calibrate"], FUNCTION_SPECS)
    assert raised.value.one_line() == (
        "infra/constructs/functions.py: handler module 'calibrate' has no entry in FUNCTION_SPECS "
        "(add its memory, timeout and grants there)"
    )


def test_synthesis_stops_at_a_new_state_without_a_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_cdk import App

    from infra.app import build, cdk_json_context

    monkeypatch.setitem(HANDLERS, "Calibrate", "calibrate")
    with pytest.raises(InputError, match="'calibrate' has no entry in FUNCTION_SPECS"):
        build(App(context={**cdk_json_context(), **TEST_CONTEXT}))


def _definition(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "statemachine" / name).read_text())
    return loaded


def _map_depths(states: dict[str, Any], depth: int = 0) -> dict[str, set[int]]:
    """'<State>' of each invoked function -> how many Map states enclose its Task states (a
    candidate execution started from inside a Map runs at that Map's depth)."""
    found: dict[str, set[int]] = {}

    def add(inner: dict[str, set[int]]) -> None:
        for key, depths in inner.items():
            found.setdefault(key, set()).update(depths)

    for state in states.values():
        name = state.get("Parameters", {}).get("FunctionName", "")
        if isinstance(name, str) and name.endswith("FunctionArn}"):
            found.setdefault(name.removeprefix("${").removesuffix("FunctionArn}"), set()).add(depth)
        if state.get("Parameters", {}).get("StateMachineArn") == "${CandidateStateMachineArn}":
            add(_map_depths(_definition("candidate.asl.json")["States"], depth))
        if state["Type"] == "Map":
            inner = state.get("ItemProcessor") or state["Iterator"]
            add(_map_depths(inner["States"], depth + 1))
    return found


def test_each_fan_out_is_where_the_workflow_runs_the_function() -> None:
    from infra.concurrency import FanOut
    from infra.constructs.functions import FUNCTION_SPECS

    depths = _map_depths(_definition("evaluate.asl.json")["States"])
    # Outside any Map: once per run; in the candidate Map: per candidate; in a candidate's
    # sweep Map: per sweep worker. The janitor also runs on its schedule.
    by_depth = {0: FanOut.RUN, 1: FanOut.CANDIDATE, 2: FanOut.SWEEP_WORKER}
    for state, module in {**HANDLERS, "Janitor": JANITOR}.items():
        [depth] = depths[state]
        expected = FanOut.RUN_AND_SCHEDULE if module == JANITOR else by_depth[depth]
        assert FUNCTION_SPECS[module].fan_out == expected, state


def test_every_function_reserves_what_the_workflow_can_run_of_it(template: dict[str, Any]) -> None:
    reserved = {
        name: function["Properties"]["ReservedConcurrentExecutions"]
        for name, function in resources_of(template, "AWS::Lambda::Function").items()
        if function["Properties"].get("Handler", "").startswith("infercost.handlers.")
    }
    by_function = {re.sub(r"^Functions(\w+)Function[0-9A-F]{8}$", r"\1", k): v for k, v in reserved.items()}
    # Defaults: 2 runs × 4 candidates × 4 sweep workers.
    assert by_function == {
        "Prepare": 2,
        "LoadWorker": 32,
        "LoadTest": 8,
        "ReleaseEndpoint": 8,
        "CollectMetrics": 8,
        "Teardown": 8,
        "Recommend": 2,
        "Report": 2,
        "Notify": 2,
        "Janitor": 3,
    }
    assert sum(by_function.values()) == 75


def test_the_functions_are_told_the_limits_prepare_must_hold_specs_to(template: dict[str, Any]) -> None:
    for function in resources_of(template, "AWS::Lambda::Function").values():
        if function["Properties"].get("Handler", "").startswith("infercost.handlers."):
            env = function["Properties"]["Environment"]["Variables"]
            assert env["INFERCOST_MAX_SWEEP_WORKERS"] == "4"
            assert json.loads(env["INFERCOST_DEFAULTS"])["workflow"]["max_concurrency"] == 4


def test_a_total_above_the_ceiling_stops_synthesis_naming_the_keys() -> None:
    from aws_cdk import App

    from infra.app import build, cdk_json_context
    from infra.concurrency import check_total
    from infra.config import from_context
    from infra.constructs.functions import reserved_executions

    config = from_context({"infercost:max_concurrent_runs": 10, "infercost:max_sweep_workers": 20})
    with pytest.raises(InputError) as raised:
        check_total(reserved_executions(config), config)
    line = raised.value.one_line()
    assert line.startswith(
        "infercost:reserved_concurrency_ceiling: the functions would reserve 1011 concurrent "
        "executions (LoadWorkerFunction 800, "
    )
    assert "more than 900" in line and "infercost:max_sweep_workers" in line
    # The same numbers pass under a ceiling raised for a bigger account, and synthesis checks it.
    raised_ceiling = config.model_copy(update={"reserved_concurrency_ceiling": 1011})
    assert check_total(reserved_executions(raised_ceiling), raised_ceiling) == 1011
    context = {**cdk_json_context(), **TEST_CONTEXT, "infercost:max_concurrent_runs": 10}
    with pytest.raises(InputError, match="reserved_concurrency_ceiling"):
        build(App(context={**context, "infercost:reserved_concurrency_ceiling": 100}))


def _deployed_bytes(variables: dict[str, Any]) -> int:
    """Lambda's count of a synthesized environment (values CloudFormation fills in at their bound)."""
    from infra.constructs.functions import DEPLOY_TIME_VALUE_BYTES

    return sum(
        len(name.encode()) + (len(value.encode()) if isinstance(value, str) else DEPLOY_TIME_VALUE_BYTES)
        for name, value in variables.items()
    )


def test_the_default_environment_fits_lambdas_4_kb(template: dict[str, Any]) -> None:
    from infra.constructs.functions import ENVIRONMENT_LIMIT_BYTES

    sizes = {
        name: _deployed_bytes(function["Properties"]["Environment"]["Variables"])
        for name, function in resources_of(template, "AWS::Lambda::Function").items()
        if function["Properties"].get("Handler", "").startswith("infercost.handlers.")
    }
    print(f"environment bytes: {sizes}")
    assert ENVIRONMENT_LIMIT_BYTES == 4096
    assert max(sizes.values()) < ENVIRONMENT_LIMIT_BYTES


def _candidates() -> list[dict[str, Any]]:
    """50 instance types and 10 serverless sizes: a large but plausible default candidate set."""
    families = ("c6i", "c7i", "m6i", "m7i", "r6i", "g5", "g6", "inf2", "c7g", "m7g")
    sizes = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge")
    instances = [{"instance_type": f"ml.{f}.{s}", "instance_count": 2} for f in families for s in sizes]
    serverless = [
        {"serverless": {"memory_mb": memory, "max_concurrency": concurrency}}
        for memory in (1024, 2048, 3072, 4096, 6144)
        for concurrency in (5, 10)
    ]
    return instances + serverless


@pytest.mark.parametrize(
    ("context", "key"),
    [
        ({"infercost:candidates": _candidates()}, "infercost:candidates"),
        (
            {"infercost:price_overrides": {"prices": {f"ml.x{i}.4xlarge": 1.2345 for i in range(150)}}},
            "infercost:price_overrides",
        ),
    ],
)
def test_an_environment_over_4_kb_stops_synthesis_naming_the_key(context: dict[str, Any], key: str) -> None:
    from aws_cdk import App

    from infra.app import build, cdk_json_context

    with pytest.raises(InputError) as raised:
        build(App(context={**cdk_json_context(), **TEST_CONTEXT, **context}))
    assert raised.value.field == key
    assert "more than Lambda's 4096" in raised.value.one_line()
