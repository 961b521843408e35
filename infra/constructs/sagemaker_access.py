"""The benchmark resources' names as IAM sees them, and the role SageMaker runs the models with.

Every SageMaker model, endpoint configuration and endpoint infercost creates is named
`<prefix>-<run-id>-<nn>-<slug>` and tagged `infercost:run-id` (docs/architecture.md), so IAM can
grant create and delete on `<prefix>-*` only, never account-wide.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import nag
from infra.config import StackConfig

RUN_ID_TAG = "infercost:run-id"
MANAGED_TAG = "infercost:managed"
# SageMaker resource types infercost creates; the ARN resource type equals the name used here.
BENCHMARK_KINDS = ("model", "endpoint-config", "endpoint")
ENDPOINT_LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"


class SageMakerAccess(Construct):
    """ARNs of the stack's SageMaker resources, and the execution role (given or created)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StackConfig, artifacts: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        self.prefix = config.resource_prefix
        self._stack = Stack.of(self)
        if config.execution_role_arn is not None:
            self.execution_role: iam.IRole = iam.Role.from_role_arn(
                self, "ExecutionRole", config.execution_role_arn, mutable=False
            )
        else:
            self.execution_role = self._create_execution_role(config, artifacts)

    def arns(self, *kinds: str) -> list[str]:
        """`arn:…:sagemaker:<region>:<account>:<kind>/<prefix>-*` for each kind."""
        for kind in kinds:
            if kind not in BENCHMARK_KINDS:
                raise ValueError(f"unknown SageMaker resource kind {kind!r}; use one of {BENCHMARK_KINDS}")
        return [
            self._stack.format_arn(service="sagemaker", resource=kind, resource_name=f"{self.prefix}-*")
            for kind in kinds
        ]

    def arn_texts(self, *kinds: str) -> list[str]:
        """The same ARNs as cdk-nag prints them, for acknowledging the wildcard."""
        return [nag.arn_text("sagemaker", f"{kind}/{self.prefix}-*") for kind in kinds]

    def endpoint_log_group_arn(self) -> str:
        """The CloudWatch log groups of the stack's endpoints (and their streams)."""
        return self._stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"{ENDPOINT_LOG_GROUP_PREFIX}{self.prefix}-*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def endpoint_log_group_text(self) -> str:
        return nag.arn_text("logs", f"log-group:{ENDPOINT_LOG_GROUP_PREFIX}{self.prefix}-*")

    def _create_execution_role(self, config: StackConfig, artifacts: s3.IBucket) -> iam.Role:
        # What a SageMaker hosting container needs: its image, its model data, its logs and metrics.
        role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="SageMaker runs infercost benchmark models with this role",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadModelArtifacts",
                actions=["s3:GetObject"],
                resources=[artifacts.arn_for_objects(f"{config.key_prefix}*")],
            )
        )
        nag.wildcard_resource(
            role,
            f"{nag.arn_of(artifacts)}/{config.key_prefix}*",
            "model artifacts are any object under the stack's artifact key prefix",
        )
        role.add_to_policy(
            iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PullInferenceImages",
                actions=[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                ],
                # Images come from AWS's Deep Learning Containers accounts or the team's own.
                resources=[
                    self._stack.format_arn(
                        service="ecr", account="*", resource="repository", resource_name="*"
                    )
                ],
            )
        )
        nag.wildcard_resource(
            role,
            "*",
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData support no resource-level "
            "permissions; PutMetricData is held to the SageMaker endpoints namespace",
        )
        nag.wildcard_resource(
            role,
            nag.arn_text("ecr", "repository/*", account="*"),
            "the spec names the inference image: an AWS Deep Learning Container (AWS-owned "
            "accounts) or the team's own repository, so any repository in the region",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EndpointLogs",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                ],
                resources=[self.endpoint_log_group_arn()],
            )
        )
        nag.wildcard_resource(
            role,
            self.endpoint_log_group_text(),
            "SageMaker writes each endpoint's container logs to a group named after the endpoint",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EndpointInstanceMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}},
            )
        )
        return role
