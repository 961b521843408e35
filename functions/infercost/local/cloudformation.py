"""The local stack as a CloudFormation stack: its functions and outputs, as `cdk deploy` leaves them.

`EmbeddedStack(cloudformation=True)` creates its Lambda functions through a moto CloudFormation
stack named like the deployed one (`infercost`), with the deployed stack's outputs
(infra/infercost_stack.py), so that what reads a stack — `infercost doctor`, `--stack` — works
on the local stack. Opt-in: moto's CloudFormation imports every service it can create, a few
seconds once per process.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# The functions run in-process; CloudFormation's inline code only has to exist.
INLINE_CODE = "# infercost handlers run in-process on the local stack\n"


def template(functions: Mapping[str, Mapping[str, Any]], outputs: Mapping[str, str]) -> dict[str, Any]:
    """A template of `AWS::Lambda::Function` resources (logical id -> CreateFunction's parameters,
    without Code) and literal outputs."""
    resources = {
        logical_id: {
            "Type": "AWS::Lambda::Function",
            "Properties": {**properties, "Code": {"ZipFile": INLINE_CODE}},
        }
        for logical_id, properties in functions.items()
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "infercost (local stack)",
        "Resources": resources,
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }


def deploy(
    cloudformation: Any,
    stack_name: str,
    functions: Mapping[str, Mapping[str, Any]],
    outputs: Mapping[str, str],
) -> str:
    """Create the stack; its id. A resource moto could not create fails here, not later."""
    body = json.dumps(template(functions, outputs))
    stack_id: str = cloudformation.create_stack(StackName=stack_name, TemplateBody=body)["StackId"]
    status = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
    if status != "CREATE_COMPLETE":
        raise RuntimeError(f"the local stack's CloudFormation stack is {status}")
    return stack_id
