"""The evaluation workflow: `statemachine/evaluate.asl.json` (the run) and
`statemachine/candidate.asl.json` (one candidate, started by the run once per candidate).

The ASL files stay reviewable JSON, testable without CDK; this construct fills in the ARNs and
names, logs every execution's steps to CloudWatch Logs (without execution data: the inputs carry
the container's environment and the request body), traces them with X-Ray, and gives each
workflow's role exactly the calls its definition makes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infercost.handlers import HANDLERS
from infra import nag
from infra.config import StackConfig
from infra.constructs.permissions import Resources
from infra.constructs.sagemaker_access import MANAGED_TAG, RUN_ID_TAG

STATEMACHINE_DIR = Path(__file__).resolve().parents[2] / "statemachine"
EVALUATE = STATEMACHINE_DIR / "evaluate.asl.json"
CANDIDATE = STATEMACHINE_DIR / "candidate.asl.json"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")

# The SageMaker calls the candidate definition makes itself (`aws-sdk:sagemaker:*` tasks).
SAGEMAKER_CREATE_ACTIONS = (
    "sagemaker:CreateModel",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:CreateEndpoint",
)
# `states:startExecution.sync:2` waits for the child through an EventBridge rule that Step
# Functions manages in the account (Step Functions developer guide, "IAM policies for nested
# workflow executions").
SYNC_EVENTS_RULE = "StepFunctionsGetEventsForStepFunctionsExecutionRule"


def state_machine_names(config: StackConfig) -> tuple[str, str]:
    """The run's and the candidate's state machine names: '<prefix>-evaluate', '<prefix>-candidate'.

    Fixed names let IAM refer to their executions without a reference to the resource (the
    janitor reads the run's executions; the run's workflow is itself invoking the janitor).
    """
    return f"{config.resource_prefix}-evaluate", f"{config.resource_prefix}-candidate"


def placeholders(definition: Path) -> set[str]:
    """The `${...}` keys a definition file uses."""
    return set(PLACEHOLDER.findall(definition.read_text(encoding="utf-8")))


def invoked_functions(
    functions: dict[str, lambda_.IFunction], janitor: lambda_.IFunction
) -> dict[str, lambda_.IFunction]:
    """What the definitions invoke: each state's handler, and the janitor to sweep a failed run."""
    return {**{state: functions[state] for state in HANDLERS}, "Janitor": janitor}


def substitutions(
    functions: dict[str, lambda_.IFunction], resources: Resources, config: StackConfig
) -> dict[str, str]:
    """Every `${...}` value either definition may use, except the candidate workflow's own ARN."""
    values = {f"{name}FunctionArn": function.function_arn for name, function in functions.items()}
    values.update(
        {
            "TableName": resources.table.table_name,
            "ResourcePrefix": config.resource_prefix,
            "ExecutionRoleArn": resources.sagemaker.execution_role.role_arn,
            "TopicArn": resources.topic.topic_arn,
        }
    )
    return values


@dataclass(frozen=True)
class _Workflow:
    definition: Path
    name: str
    role: iam.Role


class EvaluationStateMachine(Construct):
    """The run's Standard state machine (what an upload starts) and the candidate's, with their roles."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        resources: Resources,
        functions: dict[str, lambda_.IFunction],
        janitor: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        functions = invoked_functions(functions, janitor)
        values = substitutions(functions, resources, config)
        run_name, candidate_name = state_machine_names(config)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            # The vended-logs prefix keeps Step Functions' log delivery out of the account's
            # size-limited CloudWatch Logs resource policy.
            log_group_name=f"/aws/vendedlogs/states/{Stack.of(self).stack_name}-evaluation",
            retention=config.log_retention,
            encryption_key=resources.key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        candidate = _Workflow(CANDIDATE, candidate_name, self._role("CandidateRole", "one candidate"))
        self._grant_candidate(candidate.role, resources)
        self.candidate_state_machine = self._state_machine("CandidateStateMachine", candidate, values)
        values["CandidateStateMachineArn"] = self.candidate_state_machine.state_machine_arn

        run = _Workflow(EVALUATE, run_name, self._role("Role", "the run"))
        self._grant_run(run.role, resources, candidate_name)
        for workflow in (candidate, run):
            self._grant_invoke(workflow, functions)
        self.state_machine = self._state_machine("StateMachine", run, values)

    def _role(self, construct_id: str, what: str) -> iam.Role:
        role = iam.Role(
            self,
            construct_id,
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description=f"infercost evaluation workflow: {what}",
        )
        nag.wildcard_resource(
            role,
            "*",
            "Step Functions log delivery (logs:*LogDelivery, DescribeLogGroups, resource policies) "
            "and X-Ray calls support no resource-level permissions",
        )
        return role

    def _state_machine(
        self, construct_id: str, workflow: _Workflow, values: dict[str, str]
    ) -> sfn.StateMachine:
        used = placeholders(workflow.definition)
        return sfn.StateMachine(
            self,
            construct_id,
            state_machine_name=workflow.name,
            definition_body=sfn.DefinitionBody.from_file(str(workflow.definition)),
            definition_substitutions={key: values[key] for key in sorted(used)},
            state_machine_type=sfn.StateMachineType.STANDARD,
            role=workflow.role,
            # Execution data stays out of the logs: the state holds the container's environment
            # (which may carry tokens) and the request body. The history keeps it, behind IAM.
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            ),
            tracing_enabled=True,
        )

    @staticmethod
    def _grant_invoke(workflow: _Workflow, functions: dict[str, lambda_.IFunction]) -> None:
        # Exact function ARNs: the definitions invoke unqualified functions, so no ':*' wildcard.
        used = placeholders(workflow.definition)
        invoked = [f for name, f in functions.items() if f"{name}FunctionArn" in used]
        workflow.role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeHandlers",
                actions=["lambda:InvokeFunction"],
                resources=[function.function_arn for function in invoked],
            )
        )

    @staticmethod
    def _grant_candidate(role: iam.Role, resources: Resources) -> None:
        sagemaker = resources.sagemaker
        # Only resources named with the stack's prefix, and only when the request tags them with
        # a run id and as managed: what the janitor can later find and delete.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="CreateTaggedBenchmarkResources",
                actions=list(SAGEMAKER_CREATE_ACTIONS),
                resources=sagemaker.arns("model", "endpoint-config", "endpoint"),
                conditions={
                    "Null": {f"aws:RequestTag/{RUN_ID_TAG}": "false"},
                    "StringEquals": {f"aws:RequestTag/{MANAGED_TAG}": "true"},
                },
            )
        )
        # Tag-on-create needs AddTags too; it stays on the prefix.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="TagBenchmarkResources",
                actions=["sagemaker:AddTags"],
                resources=sagemaker.arns("model", "endpoint-config", "endpoint"),
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WaitForEndpoints",
                actions=["sagemaker:DescribeEndpoint"],
                resources=sagemaker.arns("endpoint"),
            )
        )
        for text in sagemaker.arn_texts("model", "endpoint-config", "endpoint"):
            nag.wildcard_resource(role, text, "benchmark resources are named '<prefix>-<run-id>-…'")
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PassExecutionRoleToSageMaker",
                actions=["iam:PassRole"],
                resources=[sagemaker.execution_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )

    def _grant_run(self, role: iam.Role, resources: Resources, candidate_name: str) -> None:
        stack = Stack.of(self)
        # Start each candidate's execution and wait for it (.sync:2); stop it if the run stops.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="StartCandidateExecutions",
                actions=["states:StartExecution"],
                resources=[
                    stack.format_arn(
                        service="states",
                        resource="stateMachine",
                        resource_name=candidate_name,
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        executions = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{candidate_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="FollowCandidateExecutions",
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[executions],
            )
        )
        nag.wildcard_resource(
            role,
            nag.arn_text("states", f"execution:{candidate_name}:*"),
            "each candidate execution is named '<run id>-<index>' when the run starts it",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="SyncCandidateExecutions",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    stack.format_arn(service="events", resource="rule", resource_name=SYNC_EVENTS_RULE)
                ],
            )
        )
        # The last resort when a failure can be neither recorded nor notified by a handler; and
        # the trigger guard below writes to the table: both are encrypted with the stack's key.
        resources.topic.grant_publish(role)
        resources.key.grant_encrypt_decrypt(role)
        for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
            nag.wildcard_action(role, action, "SNS and DynamoDB need data keys of the stack's key to encrypt")
        # The trigger guard: the first state's conditional PutItem.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="TriggerGuard",
                actions=["dynamodb:PutItem"],
                resources=[resources.table.table_arn],
            )
        )
