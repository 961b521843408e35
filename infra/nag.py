"""cdk-nag acknowledgments, written next to the resource they concern, each with its reason.

cdk-nag 3 reports every wildcard in an IAM policy as its own finding, e.g.
`AwsSolutions-IAM5[Resource::<ResultsTable1234.Arn>/index/*]`, and an acknowledgment names one
finding exactly. These helpers build those names from the constructs, so a renamed construct
does not silently leave a stale suppression behind (the synth fails instead).
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept finding `rule` (e.g. 'AwsSolutions-S1') on `scope` and everything below it."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def wildcard_resource(scope: IConstruct, resource: str, reason: str) -> None:
    """Accept a wildcard resource, written as cdk-nag renders it (see `arn_of`, `PSEUDO`)."""
    acknowledge(scope, f"AwsSolutions-IAM5[Resource::{resource}]", reason)


def wildcard_action(scope: IConstruct, action: str, reason: str) -> None:
    """Accept a wildcard action such as 'kms:GenerateDataKey*'."""
    acknowledge(scope, f"AwsSolutions-IAM5[Action::{action}]", reason)


def arn_of(resource: IConstruct) -> str:
    """How cdk-nag renders the ARN attribute of an L2 construct's resource: '<LogicalId.Arn>'."""
    default_child = resource.node.default_child
    element = default_child if isinstance(default_child, CfnElement) else resource
    if not isinstance(element, CfnElement):
        raise TypeError(f"{resource.node.path} has no CloudFormation resource to name")
    stack = Stack.of(element)
    return f"<{stack.resolve(stack.get_logical_id(element))}.Arn>"


# `Stack.format_arn` puts these pseudo parameters into an ARN; cdk-nag renders them like this.
PSEUDO = {"partition": "<AWS::Partition>", "region": "<AWS::Region>", "account": "<AWS::AccountId>"}


def arn_text(
    service: str, resource: str, *, region: str = PSEUDO["region"], account: str = PSEUDO["account"]
) -> str:
    """cdk-nag's rendering of `Stack.format_arn(service=..., resource=...)` for this stack."""
    return ":".join(["arn", PSEUDO["partition"], service, region, account, resource])


def intrinsic_text(scope: IConstruct, value: Any) -> str:
    """cdk-nag's rendering of a resource that stays an intrinsic function, e.g. an Fn::Split."""
    return json.dumps(Stack.of(scope).resolve(value), separators=(",", ":"))
