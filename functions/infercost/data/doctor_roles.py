"""`infercost doctor`: can each Lambda function's role do what its handler calls?

The stack's functions are its `AWS::Lambda::Function` resources (ListStackResources); each one's
handler names its entry of the calls-against-grants map (`handler_calls.json`, docs/deploy.md)
and GetFunctionConfiguration names its role. IAM's policy simulator (SimulatePrincipalPolicy)
then evaluates the role's policies for every action of the map, on a resource of the kind the
function touches: the results table, an object under the artifact's folder or the reports
prefix, a benchmark endpoint named like the stack's (`<prefix>-doctor-check`), the topic, the
Slack secret, an execution of the workflow. Actions without resource-level permissions are
simulated on `*`. An action denied (implicitly: a grant is gone; explicitly: a Deny, a permissions
boundary or an SCP) is a blocker naming the function and the action.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infercost.data.clients import PermissionDenied
from infercost.data.endpoints import log_group_for
from infercost.data.handler_calls import load_calls
from infercost.domain.doctor import Check, StackInfo, caller_fix, error_text, fail, ok, warn
from infercost.domain.workflow import RUN_ID_TAG

NAME = "Function roles"
# The name of the benchmark resources the simulation asks about: '<prefix>-doctor-check'.
PROBE = "doctor-check"
_HANDLER = re.compile(r"^infercost\.handlers\.(?P<module>[a-z0-9_]+)\.handler$")
REDEPLOY = (
    "redeploy the stack (cdk deploy) to restore the role's policies: a policy was changed by hand "
    "(or the stack is older than this infercost)"
)
EXPLICIT_DENY = (
    "remove the Deny on these actions (a policy, permissions boundary or SCP added outside the stack), "
    "then redeploy"
)


@dataclass(frozen=True)
class StackFunction:
    """A function of the stack: its name in the calls map, its Lambda name and its role."""

    name: str
    function_name: str
    role_arn: str


@dataclass(frozen=True)
class Simulation:
    """One SimulatePrincipalPolicy request: actions on the same resources (none: `*`)."""

    actions: tuple[str, ...]
    resources: tuple[str, ...] = ()
    context: tuple[tuple[str, str], ...] = ()

    def parameters(self, role_arn: str) -> dict[str, Any]:
        params: dict[str, Any] = {"PolicySourceArn": role_arn, "ActionNames": list(self.actions)}
        if self.resources:
            params["ResourceArns"] = list(self.resources)
        if self.context:
            params["ContextEntries"] = [
                {"ContextKeyName": key, "ContextKeyValues": [value], "ContextKeyType": "string"}
                for key, value in self.context
            ]
        return params


@dataclass(frozen=True)
class Denial:
    action: str
    decision: str
    reason: str | None = None

    def describe(self) -> str:
        return f"{self.action} ({self.decision}" + (f": {self.reason})" if self.reason else ")")


def function_name_of(handler: str) -> str | None:
    """The calls map's name of a handler: 'infercost.handlers.load_worker.handler' -> 'LoadWorkerFunction'.

    None for a function that is not one of infercost's handlers (CDK's own custom resources).
    """
    match = _HANDLER.match(handler)
    if match is None:
        return None
    return "".join(part[:1].upper() + part[1:] for part in match["module"].split("_")) + "Function"


def stack_functions(cloudformation: Any, lambda_client: Any, stack_name: str) -> dict[str, StackFunction]:
    """The stack's infercost functions by their calls-map name (one deleted by hand is absent)."""
    from botocore.exceptions import ClientError

    found: dict[str, StackFunction] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for resource in page.get("StackResourceSummaries", []):
            physical = resource.get("PhysicalResourceId")
            if resource.get("ResourceType") != "AWS::Lambda::Function" or not physical:
                continue
            try:
                config = lambda_client.get_function_configuration(FunctionName=physical)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    continue
                raise
            name = function_name_of(str(config.get("Handler", "")))
            if name is not None:
                found[name] = StackFunction(name, str(config["FunctionName"]), str(config["Role"]))
    return found


def action_resources(
    action: str, stack: StackInfo, *, input_key: str, secret_arn: str | None
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The resources to simulate `action` on (any one allowed will do), and the request context."""
    service, operation = action.split(":", 1)
    prefix = stack.output("ResourcePrefix") or "infercost"
    probe = f"{prefix}-{PROBE}"
    if service == "dynamodb" and stack.output("ResultsTableName"):
        return (stack.arn("dynamodb", f"table/{stack.output('ResultsTableName')}"),), ()
    if service == "s3" and stack.output("ArtifactsBucketName"):
        bucket = stack.output("ArtifactsBucketName")
        reports = stack.arn(
            "s3", f"{bucket}/{stack.output('ReportsPrefix') or 'reports/'}{probe}.html", regional=False
        )
        if operation == "PutObject":
            return (reports,), ()
        # Inputs beside the artifact (Prepare, LoadTest, LoadWorker) or reports (Notify's link).
        return (stack.arn("s3", f"{bucket}/{input_key}", regional=False), reports), ()
    if service == "sagemaker" and not (operation.startswith("List") and operation != "ListTags"):
        kind = (
            "endpoint-config"
            if "EndpointConfig" in operation
            else "model"
            if "Model" in operation
            else "endpoint"
        )
        # The janitor may delete only what carries a run id: the simulated resource does.
        return (stack.arn("sagemaker", f"{kind}/{probe}"),), ((f"sagemaker:ResourceTag/{RUN_ID_TAG}", PROBE),)
    if service == "secretsmanager" and secret_arn:
        return (secret_arn,), ()
    if service == "sns" and stack.output("TopicArn"):
        return (str(stack.output("TopicArn")),), ()
    if service == "states" and stack.output("StateMachineArn"):
        machine = str(stack.output("StateMachineArn")).rsplit(":", 1)[-1]
        return (stack.arn("states", f"execution:{machine}:{PROBE}"),), ()
    if service == "logs":
        group = stack.arn("logs", f"log-group:{log_group_for(probe)}")
        return ((f"{group}:log-stream:AllTraffic/{PROBE}",) if operation == "GetLogEvents" else (group,)), ()
    return (), ()


def simulation_plan(
    actions: Sequence[str], stack: StackInfo, *, input_key: str, secret_arn: str | None
) -> list[Simulation]:
    """The requests that cover `actions`: one per set of resources, in the order first needed."""
    groups: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], list[str]] = {}
    for action in sorted(actions):
        key = action_resources(action, stack, input_key=input_key, secret_arn=secret_arn)
        groups.setdefault(key, []).append(action)
    return [Simulation(tuple(names), resources, context) for (resources, context), names in groups.items()]


def _denial(result: Mapping[str, Any]) -> Denial | None:
    specific = result.get("ResourceSpecificResults") or []
    decisions = [str(item.get("EvalResourceDecision")) for item in specific] or [
        str(result.get("EvalDecision"))
    ]
    if "allowed" in decisions:
        return None
    reasons = []
    if (result.get("OrganizationsDecisionDetail") or {}).get("AllowedByOrganizations") is False:
        reasons.append("an organization SCP denies it")
    if (result.get("PermissionsBoundaryDecisionDetail") or {}).get("AllowedByPermissionsBoundary") is False:
        reasons.append("the role's permissions boundary denies it")
    missing = result.get("MissingContextValues") or []
    if missing:
        reasons.append("allowed only with " + ", ".join(sorted(missing)))
    decision = "explicitDeny" if "explicitDeny" in decisions else "implicitDeny"
    return Denial(str(result.get("EvalActionName")), decision, "; ".join(reasons) or None)


def simulate(iam: Any, role_arn: str, simulation: Simulation) -> list[Denial]:
    """The actions of `simulation` the role's policies do not allow."""
    denials: list[Denial] = []
    pages = iam.get_paginator("simulate_principal_policy").paginate(**simulation.parameters(role_arn))
    for page in pages:
        for result in page.get("EvaluationResults", []):
            denial = _denial(result)
            if denial is not None:
                denials.append(denial)
    return denials


def check_roles(
    cloudformation: Any,
    lambda_client: Any,
    iam: Any,
    stack: StackInfo,
    *,
    input_key: str,
    secret_arn: str | None,
    calls: Mapping[str, Sequence[str]] | None = None,
) -> list[Check]:
    """One blocker per function that is missing or whose role denies an action it calls, else one ok."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    calls = load_calls() if calls is None else calls
    try:
        functions = stack_functions(cloudformation, lambda_client, stack.name)
    except PermissionDenied as denied:
        return [warn(NAME, f"cannot list the stack's functions: {denied.message}", _caller_fix(denied))]
    checks: list[Check] = []
    simulated = 0
    for name in sorted(calls):
        found = functions.get(name)
        if found is None:
            checks.append(fail(f"Role of {name}", "the stack has no such function", REDEPLOY))
            continue
        denials: list[Denial] = []
        try:
            for simulation in simulation_plan(calls[name], stack, input_key=input_key, secret_arn=secret_arn):
                denials += simulate(iam, found.role_arn, simulation)
        except PermissionDenied as denied:
            return [warn(NAME, f"cannot simulate the roles' policies: {denied.message}", _caller_fix(denied))]
        except (ClientError, BotoCoreError, ResponseParserError) as error:
            return [warn(NAME, f"IAM policy simulation failed: {error_text(error)}")]
        simulated += len(calls[name])
        if denials:
            role = found.role_arn.rsplit("/", 1)[-1]
            explicit = any(denial.decision == "explicitDeny" for denial in denials)
            checks.append(
                fail(
                    f"Role of {name}",
                    f"role {role} does not allow " + ", ".join(denial.describe() for denial in denials),
                    EXPLICIT_DENY if explicit else REDEPLOY,
                )
            )
    if not checks:
        checks.append(
            ok(
                NAME,
                f"{len(calls)} functions' roles allow the {simulated} actions they call (IAM policy simulation)",
            )
        )
    return checks


def _caller_fix(denied: PermissionDenied) -> str:
    return caller_fix(str(denied.field))
