"""The evaluation workflow: `statemachine/evaluate.asl.json` with its `${...}` substitutions.

The ASL file stays reviewable JSON, testable without CDK; this construct fills in the ARNs and
names, logs every execution to CloudWatch Logs, traces it with X-Ray, and gives the role
exactly the calls the definition makes.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import RemovalPolicy, Stack
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

DEFINITION = Path(__file__).resolve().parents[2] / "statemachine" / "evaluate.asl.json"

# The SageMaker calls the definition makes itself (`aws-sdk:sagemaker:*` tasks).
SAGEMAKER_CREATE_ACTIONS = (
    "sagemaker:CreateModel",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:CreateEndpoint",
)


def invoked_functions(
    functions: dict[str, lambda_.IFunction], janitor: lambda_.IFunction
) -> dict[str, lambda_.IFunction]:
    """What the definition invokes: each state's handler, and the janitor to sweep a failed run."""
    return {**{state: functions[state] for state in HANDLERS}, "Janitor": janitor}


def substitutions(
    functions: dict[str, lambda_.IFunction], resources: Resources, config: StackConfig
) -> dict[str, str]:
    """Every `${...}` key of the definition: `<Name>FunctionArn` per invoked function, and the rest."""
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


class EvaluationStateMachine(Construct):
    """The Standard state machine an artifact upload starts, with logging ALL and X-Ray."""

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
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="infercost evaluation workflow",
        )
        self._grant(role, resources, functions)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_file(str(DEFINITION)),
            definition_substitutions=substitutions(functions, resources, config),
            state_machine_type=sfn.StateMachineType.STANDARD,
            role=role,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
            tracing_enabled=True,
        )
        nag.wildcard_resource(
            role,
            "*",
            "Step Functions log delivery (logs:*LogDelivery, DescribeLogGroups, resource policies) "
            "and X-Ray calls support no resource-level permissions",
        )

    @staticmethod
    def _grant(role: iam.Role, resources: Resources, functions: dict[str, lambda_.IFunction]) -> None:
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
        # Exact function ARNs: the definition invokes unqualified functions, so no ':*' wildcard.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeHandlers",
                actions=["lambda:InvokeFunction"],
                resources=[function.function_arn for function in functions.values()],
            )
        )
        # The last resort when a failure can be neither recorded nor notified by a handler.
        resources.topic.grant_publish(role)
        resources.key.grant(role, "kms:Decrypt", "kms:GenerateDataKey*")
        nag.wildcard_action(
            role, "kms:GenerateDataKey*", "SNS needs a data key of the topic's own key to encrypt"
        )
        # The trigger guard: the first state's conditional PutItem (and its status updates).
        role.add_to_policy(
            iam.PolicyStatement(
                sid="TriggerGuard",
                actions=["dynamodb:PutItem", "dynamodb:UpdateItem"],
                resources=[resources.table.table_arn],
            )
        )
