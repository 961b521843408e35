"""The definition the stack deploys and the substitutions it deploys it with fit each other."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infercost.handlers import HANDLERS, JANITOR
from tests.infra.cdk_support import ROOT, Synth, logical_id, resources_of

pytestmark = pytest.mark.infra

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


# Logical id path of each state machine -> its definition file.
MACHINES = {
    "EvaluationStateMachine": "evaluate.asl.json",
    "EvaluationCandidateStateMachine": "candidate.asl.json",
}


def machine(template: dict[str, Any], path: str) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][
        logical_id(template, "AWS::StepFunctions::StateMachine", path)
    ]["Properties"]
    return properties


def deployed_definition(synth: Synth, properties: dict[str, Any]) -> str:
    """The definition exactly as synthesized (an asset in the cloud assembly, or inline)."""
    if "DefinitionString" in properties:
        return json.dumps(properties["DefinitionString"])
    key = properties["DefinitionS3Location"]["Key"]
    return synth.asset(key).read_text()


def test_the_stack_deploys_exactly_the_two_workflows(template: dict[str, Any]) -> None:
    assert len(resources_of(template, "AWS::StepFunctions::StateMachine")) == len(MACHINES)
    names = {path: machine(template, path)["StateMachineName"] for path in MACHINES}
    assert names == {
        "EvaluationStateMachine": "infercost-evaluate",
        "EvaluationCandidateStateMachine": "infercost-candidate",
    }


@pytest.mark.parametrize("path", MACHINES)
def test_placeholders_equal_the_synthesized_substitution_keys(
    synth: Synth, template: dict[str, Any], path: str
) -> None:
    properties = machine(template, path)
    placeholders = set(PLACEHOLDER.findall(deployed_definition(synth, properties)))
    assert placeholders, "the definition refers to the stack's resources through placeholders"
    assert placeholders == set(properties["DefinitionSubstitutions"])


def test_every_handler_has_its_function_arn_substituted(template: dict[str, Any]) -> None:
    substitutions = {
        key: value
        for path in MACHINES
        for key, value in machine(template, path)["DefinitionSubstitutions"].items()
    }
    # Each state's handler, and the janitor, which the workflow calls to sweep a run.
    for state, module in {**HANDLERS, "Janitor": JANITOR}.items():
        value = substitutions[f"{state}FunctionArn"]
        [name, attribute] = value["Fn::GetAtt"]
        assert template["Resources"][name]["Type"] == "AWS::Lambda::Function"
        assert attribute == "Arn"
        assert template["Resources"][name]["Properties"]["Handler"] == f"infercost.handlers.{module}.handler"
    assert {"TableName", "ExecutionRoleArn", "TopicArn", "CandidateStateMachineArn"} <= set(substitutions)
    candidate = substitutions["CandidateStateMachineArn"]
    assert candidate == {
        "Ref": logical_id(template, "AWS::StepFunctions::StateMachine", "EvaluationCandidateStateMachine")
    }


@pytest.mark.parametrize("path", MACHINES)
def test_the_deployed_definition_is_the_file_in_the_repository(
    synth: Synth, template: dict[str, Any], path: str
) -> None:
    source = (ROOT / "statemachine" / MACHINES[path]).read_text()
    assert json.loads(deployed_definition(synth, machine(template, path))) == json.loads(source)
