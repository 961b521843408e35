"""The benchmark resources' names as IAM sees them, and the role SageMaker runs the models with.

Every SageMaker model, endpoint configuration and endpoint infercost creates is named
`<prefix>-<run-id>-<nn>-<slug>` and tagged `infercost:run-id` (docs/architecture.md), so IAM can
grant create and delete on `<prefix>-*` only, never account-wide.
"""

from __future__ import annotations

import re

from aws_cdk import Annotations, ArnFormat, Aws, CfnMapping, Fn, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infercost.domain.hardware import dlc_accounts
from infra import nag
from infra.config import StackConfig

RUN_ID_TAG = "infercost:run-id"
MANAGED_TAG = "infercost:managed"
# SageMaker resource types infercost creates; the ARN resource type equals the name used here.
BENCHMARK_KINDS = ("model", "endpoint-config", "endpoint")
ENDPOINT_LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"
# The AWS accounts whose ECR registries hold the Deep Learning Containers, per region
# (functions/infercost/domain/dlc_registries.json, which says where the table comes from and when
# it was taken); the offline image checks of `spec validate` read the same table.
# The partition of each region family (regions not listed here are in 'aws').
_PARTITIONS = {
    "cn-": "aws-cn",
    "us-gov-": "aws-us-gov",
    "us-iso-": "aws-iso",
    "us-isob-": "aws-iso-b",
    "us-isof-": "aws-iso-f",
    "eu-isoe-": "aws-iso-e",
    "eusc-": "aws-eusc",
}


def dlc_registry_accounts() -> dict[str, list[str]]:
    """Region -> the accounts of its Deep Learning Containers registries (dlc_registries.json)."""
    return {region: sorted(accounts) for region, accounts in dlc_accounts().items()}


def partition_of(region: str) -> str:
    """'cn-north-1' -> 'aws-cn'; a region of the standard partition -> 'aws'."""
    return next((p for prefix, p in _PARTITIONS.items() if region.startswith(prefix)), "aws")


def dlc_repository_arns(region: str) -> list[str]:
    """Every repository of the region's Deep Learning Containers registries."""
    return [
        f"arn:{partition_of(region)}:ecr:{region}:{account}:repository/*"
        for account in dlc_registry_accounts()[region]
    ]


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
        nag.wildcard_resource(
            role,
            "*",
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData support no resource-level "
            "permissions; PutMetricData is held to the SageMaker endpoints namespace",
        )
        self._allow_image_pulls(role, config)
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

    def _allow_image_pulls(self, role: iam.Role, config: StackConfig) -> None:
        """Pull from the region's Deep Learning Containers registries, the stack's own account and
        `infercost:image_repositories`; no other registry."""
        stack = self._stack
        own = stack.format_arn(service="ecr", resource="repository", resource_name="*")
        # The region is a deploy-time value: CloudFormation looks the registries up. In a region
        # the table does not list, FindInMap's DefaultValue (AWS::LanguageExtensions) leaves the
        # own account: Deep Learning Containers are then refused until infercost:image_repositories
        # names their account. (CloudFormation's Fn::FindInMap enhancements:
        # docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-findinmap-enhancements.html)
        registries = CfnMapping(
            stack,
            "DlcRegistries",
            mapping={
                region: {"Repositories": ",".join(dlc_repository_arns(region))}
                for region in dlc_registry_accounts()
            },
        )
        if not Token.is_unresolved(stack.region) and stack.region not in dlc_registry_accounts():
            Annotations.of(self).add_warning_v2(
                "infercost:no-dlc-registries",
                f"{stack.region} is not in dlc_registries.json: SageMaker may pull images of "
                "this account only, until infercost:image_repositories names the Deep Learning "
                "Containers account",
            )
        dlc = Fn.split(",", registries.find_in_map(Aws.REGION, "Repositories", own))
        pull = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
        role.add_to_policy(iam.PolicyStatement(sid="PullDeepLearningContainers", actions=pull, resources=dlc))
        nag.wildcard_resource(
            role,
            nag.intrinsic_text(role, dlc),
            "every image of the region's Deep Learning Containers registries (AWS-owned accounts)",
        )
        listed = [self._repository_arn(entry) for entry in config.image_repositories or []]
        role.add_to_policy(
            iam.PolicyStatement(sid="PullOwnAndListedImages", actions=pull, resources=[own, *listed])
        )
        why = "the team's own images, in this account or an account named in infercost:image_repositories"
        nag.wildcard_resource(role, nag.arn_text("ecr", "repository/*"), why)
        for entry in config.image_repositories or []:
            if re.fullmatch(r"\d{12}", entry):
                nag.wildcard_resource(role, nag.arn_text("ecr", "repository/*", account=entry), why)
            elif "*" in entry:
                nag.wildcard_resource(role, entry, why)

    def _repository_arn(self, entry: str) -> str:
        """A repository ARN as given, or every repository of an account (a 12-digit id)."""
        if re.fullmatch(r"\d{12}", entry):
            return self._stack.format_arn(
                service="ecr", account=entry, resource="repository", resource_name="*"
            )
        return entry
