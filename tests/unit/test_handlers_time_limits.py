"""Every step's deadline comes from the Lambda's remaining time, minus room to record what it got.

Lambda cuts a function off at its timeout (at most 15 minutes): a step that works up to its own
configured deadline instead loses the whole measurement. These tests call the real handlers with
Lambda's context object (the local stack's), and check the budget each passes to its step.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest

from infercost.domain.models import LoadPlan
from infercost.handlers._shared import reset_settings
from infercost.local.lambda_invoke import LocalLambdaContext
from infercost.steps import common

# Steps that publish no metric make Powertools warn; not what these tests are about.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REQUEST_TIMEOUT_S = 45.0
RUN = {
    "model": "m",
    "started_at": "2024-05-01T12:00:00.000Z",
    "run_id": "0123456789",
    "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:sm:x",
    "artifact": {"bucket": "b", "key": "models/m/model.tar.gz"},
}
STATE = {
    "run": RUN,
    "timing": {},
    "benchmark": {
        "containers": [
            {
                "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1",
                "ModelDataUrl": "s3://b/models/m/model.tar.gz",
                "Environment": {},
            }
        ],
        "payload": {"body": "{}"},
        "load": {"request_timeout_s": REQUEST_TIMEOUT_S},
        "slo": {"percentile": "p90", "max_latency_ms": 100},
    },
    "candidate": {
        "index": 0,
        "label": "ml.c5.large",
        "candidate": {"instance_type": "ml.c5.large"},
        "name": "infercost-0123456789-00-c5-large",
        "production_variants": [],
        "tags": [],
    },
}
# handler module -> (the step module and function it calls, its event, the margin it must leave)
LOAD_MARGIN_S = REQUEST_TIMEOUT_S + common.RECORD_MARGIN_S
HANDLERS = {
    "load_test": ("load.load_test", STATE, LOAD_MARGIN_S),
    "load_worker": ("load.load_worker", {**STATE, "worker": 0}, LOAD_MARGIN_S),
    "collect_metrics": ("collect_metrics.collect_metrics", STATE, common.RECORD_MARGIN_S),
    "release_endpoint": ("teardown.release_endpoint", STATE, common.RECORD_MARGIN_S),
    "teardown": ("teardown.teardown", {"state": STATE}, common.RECORD_MARGIN_S),
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("INFERCOST_TABLE_NAME", "results")
    monkeypatch.setenv("INFERCOST_ARTIFACTS_BUCKET", "b")
    reset_settings()
    yield
    reset_settings()


@pytest.mark.parametrize("module", HANDLERS)
def test_each_step_gets_the_lambdas_remaining_time_minus_its_margin(
    module: str, environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    step, event, margin_s = HANDLERS[module]
    budgets: list[float] = []

    def record(*args: Any, time_budget_s: float, **kwargs: Any) -> Any:
        budgets.append(time_budget_s)
        raise StopIteration  # the budget is all this test needs from the step

    step_module, _, function = step.partition(".")
    monkeypatch.setattr(importlib.import_module(f"infercost.steps.{step_module}"), function, record)
    handler = importlib.import_module(f"infercost.handlers.{module}").handler
    context = LocalLambdaContext("f", 1024, "arn:aws:lambda:us-east-1:123456789012:function:f", 300.0)

    with pytest.raises(StopIteration):
        handler(event, context)

    (budget,) = budgets
    # 300 s of timeout, a moment already spent: the budget is what is left minus the margin.
    assert 300 - margin_s - 2 < budget <= 300 - margin_s


def test_a_load_step_leaves_a_whole_request_timeout_so_a_stalled_request_cannot_lose_the_run() -> None:
    plan = LoadPlan(request_timeout_s=60)
    context = LocalLambdaContext("f", 1024, "arn:aws:lambda:us-east-1:123456789012:function:f", 900.0)

    budget = common.time_budget_s(context, common.load_margin_s(plan))

    # The last request may start at the budget's end and run its full timeout; 30 s remain to record.
    assert budget + plan.request_timeout_s + common.RECORD_MARGIN_S <= 900
    assert budget > 800


def test_a_budget_is_never_below_one_second() -> None:
    context = LocalLambdaContext("f", 128, "arn:aws:lambda:us-east-1:123456789012:function:f", 10.0)
    assert common.time_budget_s(context, 60) == 1.0


def test_the_request_timeout_stops_at_invoke_endpoints_own_limit() -> None:
    # InvokeEndpoint gives up after 60 s; a longer client timeout would only wait for an error.
    with pytest.raises(ValueError, match="less than or equal to 60"):
        LoadPlan(request_timeout_s=61)
