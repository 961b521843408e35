"""The definition the stack deploys and the substitutions it deploys it with fit each other."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infercost.handlers import HANDLERS, JANITOR
from tests.infra.cdk_support import ROOT, Synth, only

pytestmark = pytest.mark.infra

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


@pytest.fixture(scope="module")
def machine(template: dict[str, Any]) -> dict[str, Any]:
    _, resource = only(template, "AWS::StepFunctions::StateMachine")
    properties: dict[str, Any] = resource["Properties"]
    return properties


@pytest.fixture(scope="module")
def deployed_definition(synth: Synth, machine: dict[str, Any]) -> str:
    """The definition exactly as synthesized (an asset in the cloud assembly, or inline)."""
    if "DefinitionString" in machine:
        return json.dumps(machine["DefinitionString"])
    key = machine["DefinitionS3Location"]["Key"]
    return synth.asset(key).read_text()


def test_placeholders_equal_the_synthesized_substitution_keys(
    deployed_definition: str, machine: dict[str, Any]
) -> None:
    placeholders = set(PLACEHOLDER.findall(deployed_definition))
    assert placeholders, "the definition refers to the stack's resources through placeholders"
    assert placeholders == set(machine["DefinitionSubstitutions"])


def test_every_handler_has_its_function_arn_substituted(
    machine: dict[str, Any], template: dict[str, Any]
) -> None:
    substitutions = machine["DefinitionSubstitutions"]
    # Each state's handler, and the janitor, which the workflow calls to sweep a run.
    for state, module in {**HANDLERS, "Janitor": JANITOR}.items():
        value = substitutions[f"{state}FunctionArn"]
        [name, attribute] = value["Fn::GetAtt"]
        assert template["Resources"][name]["Type"] == "AWS::Lambda::Function"
        assert attribute == "Arn"
        assert template["Resources"][name]["Properties"]["Handler"] == f"infercost.handlers.{module}.handler"
    assert {"TableName", "ResourcePrefix", "ExecutionRoleArn", "TopicArn"} <= set(substitutions)
    assert substitutions["ResourcePrefix"] == "infercost"


def test_the_deployed_definition_is_the_file_in_the_repository(deployed_definition: str) -> None:
    source = (ROOT / "statemachine" / "evaluate.asl.json").read_text()
    assert json.loads(deployed_definition) == json.loads(source)
