"""One function per handler, each with a row in FUNCTION_SPECS, or synthesis says what's missing."""

from __future__ import annotations

import pytest

from infercost.errors import InputError
from infercost.handlers import HANDLERS, JANITOR
from tests.infra.cdk_support import TEST_CONTEXT

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
