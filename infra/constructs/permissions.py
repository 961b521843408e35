"""What each Lambda function may do: small grant functions, combined per function in functions.py.

Each grant adds the narrowest statements the calls need and, where a wildcard remains, says
why next to it (cdk-nag acknowledgment). SageMaker access is scoped to the stack's resource
name prefix; the janitor, which deletes what it discovers, is also held to the run-id tag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns

from infra import nag
from infra.config import StackConfig
from infra.constructs.sagemaker_access import RUN_ID_TAG, SageMakerAccess


@dataclass(frozen=True)
class Resources:
    """The stack's resources a grant may refer to."""

    config: StackConfig
    artifacts: s3.IBucket
    table: dynamodb.ITable
    topic: sns.ITopic
    # Encrypts the table, topic, secret, logs and function settings (constructs/encryption.py).
    key: kms.IKey
    slack_secret: secretsmanager.ISecret
    sagemaker: SageMakerAccess


Grant = Callable[[Resources, iam.Role], None]

_NO_RESOURCE_LEVEL = "{} support no resource-level permissions"


def _read_objects(res: Resources, role: iam.Role, prefix: str, why: str) -> None:
    role.add_to_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[res.artifacts.arn_for_objects(f"{prefix}*")])
    )
    # Without ListBucket a missing key answers AccessDenied instead of NoSuchKey, and the
    # person would be told "access denied" rather than "no infercost.json beside the artifact".
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[res.artifacts.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        )
    )
    nag.wildcard_resource(role, f"{nag.arn_of(res.artifacts)}/{prefix}*", why)


def read_artifact_inputs(res: Resources, role: iam.Role) -> None:
    """The spec (`infercost.json`) and the request payload beside each artifact."""
    _read_objects(
        res,
        role,
        res.config.key_prefix,
        "specs and payloads are any object under the artifact key prefix",
    )


def read_reports(res: Resources, role: iam.Role) -> None:
    """Report objects, so that a pre-signed link to them works."""
    _read_objects(res, role, res.config.reports_prefix, "each run writes its report under the reports prefix")


def write_reports(res: Resources, role: iam.Role) -> None:
    """Put (and read back) each run's HTML report and charts under the reports prefix."""
    _read_objects(res, role, res.config.reports_prefix, "each run writes its report under the reports prefix")
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:PutObject"],
            resources=[res.artifacts.arn_for_objects(f"{res.config.reports_prefix}*")],
        )
    )


def write_sweep_shares(res: Resources, role: iam.Role) -> None:
    """Put a sweep worker's share (its latency sketches) beside the run's report."""
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:PutObject"],
            resources=[res.artifacts.arn_for_objects(f"{res.config.reports_prefix}*")],
        )
    )
    nag.wildcard_resource(
        role,
        f"{nag.arn_of(res.artifacts)}/{res.config.reports_prefix}*",
        "each run's sweep workers write their shares under the reports prefix",
    )


def _table_wildcards(res: Resources, role: iam.Role) -> None:
    nag.wildcard_resource(
        role,
        f"{nag.arn_of(res.table)}/index/*",
        "the table's by-run index answers 'show RUN_ID' queries",
    )
    # The table is encrypted with the stack's key; CDK's table grants add its use.
    for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
        nag.wildcard_action(
            role, action, "DynamoDB encrypts and re-encrypts the table's data keys with the stack's key"
        )


def read_write_results(res: Resources, role: iam.Role) -> None:
    """Runs, candidates and recommendations in the results table."""
    res.table.grant_read_write_data(role)
    _table_wildcards(res, role)


def write_results(res: Resources, role: iam.Role) -> None:
    """Conditional writes of measurements and candidate status."""
    res.table.grant_write_data(role)
    _table_wildcards(res, role)


def look_up_prices(res: Resources, role: iam.Role) -> None:
    """The AWS Price List API, for the hourly price of each candidate, and the Savings Plans API,
    for its SageMaker Savings Plans rates (read-only offering rates; nothing is purchased)."""
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["pricing:GetProducts", "savingsplans:DescribeSavingsPlansOfferingRates"], resources=["*"]
        )
    )
    nag.wildcard_resource(
        role,
        "*",
        _NO_RESOURCE_LEVEL.format("pricing:GetProducts and savingsplans:DescribeSavingsPlansOfferingRates"),
    )


def check_quotas(res: Resources, role: iam.Role) -> None:
    """Before launching, compare the candidates with the account's quotas and endpoints.

    The instances in use are counted over every endpoint of the account (a quota is per account,
    not per stack), so Prepare may describe any endpoint and endpoint config: read-only.
    """
    stack = Stack.of(role)
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["servicequotas:GetServiceQuota"],
            resources=[stack.format_arn(service="servicequotas", resource="sagemaker", resource_name="*")],
        )
    )
    nag.wildcard_resource(
        role,
        nag.arn_text("servicequotas", "sagemaker/*"),
        "the quota of each candidate's instance type, limited to SageMaker's quotas",
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["servicequotas:ListServiceQuotas", "sagemaker:ListEndpoints"], resources=["*"]
        )
    )
    nag.wildcard_resource(
        role,
        "*",
        _NO_RESOURCE_LEVEL.format("servicequotas:ListServiceQuotas and sagemaker:ListEndpoints"),
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig"],
            resources=[
                stack.format_arn(service="sagemaker", resource=kind, resource_name="*")
                for kind in ("endpoint", "endpoint-config")
            ],
        )
    )
    for kind in ("endpoint", "endpoint-config"):
        nag.wildcard_resource(
            role,
            nag.arn_text("sagemaker", f"{kind}/*"),
            "read-only: the instances every endpoint of the account holds count against the quota",
        )


def invoke_benchmark_endpoints(res: Resources, role: iam.Role) -> None:
    """Drive load at the stack's own benchmark endpoints, and no other endpoint."""
    role.add_to_policy(
        iam.PolicyStatement(actions=["sagemaker:InvokeEndpoint"], resources=res.sagemaker.arns("endpoint"))
    )
    for text in res.sagemaker.arn_texts("endpoint"):
        nag.wildcard_resource(role, text, "benchmark endpoints are named '<prefix>-<run-id>-…'")


def release_benchmark_endpoints(res: Resources, role: iam.Role) -> None:
    """Delete (and check) the stack's benchmark endpoints once their measured minute has closed."""
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["sagemaker:DeleteEndpoint", "sagemaker:DescribeEndpoint"],
            resources=res.sagemaker.arns("endpoint"),
        )
    )
    for text in res.sagemaker.arn_texts("endpoint"):
        nag.wildcard_resource(role, text, "benchmark endpoints are named '<prefix>-<run-id>-…'")


def read_run_executions(res: Resources, role: iam.Role) -> None:
    """The status of each run's execution, to close runs whose execution ended unrecorded."""
    name = f"{res.config.resource_prefix}-evaluate"
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["states:DescribeExecution"],
            resources=[
                Stack.of(role).format_arn(
                    service="states",
                    resource="execution",
                    resource_name=f"{name}:*",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
        )
    )
    nag.wildcard_resource(
        role,
        nag.arn_text("states", f"execution:{name}:*"),
        "a run records its execution's ARN; any execution of the stack's evaluation workflow",
    )


def read_endpoint_metrics(res: Resources, role: iam.Role) -> None:
    """Latency, invocations and errors that CloudWatch recorded for each endpoint."""
    role.add_to_policy(
        iam.PolicyStatement(
            actions=[
                "cloudwatch:GetMetricData",
                "cloudwatch:GetMetricStatistics",
                "cloudwatch:ListMetrics",
            ],
            resources=["*"],
        )
    )
    nag.wildcard_resource(role, "*", _NO_RESOURCE_LEVEL.format("CloudWatch metric reads"))


def read_endpoint_traffic(res: Resources, role: iam.Role) -> None:
    """The hourly `Invocations` of the endpoint a spec names as its traffic (`traffic.endpoint`)."""
    role.add_to_policy(iam.PolicyStatement(actions=["cloudwatch:GetMetricStatistics"], resources=["*"]))
    nag.wildcard_resource(role, "*", _NO_RESOURCE_LEVEL.format("cloudwatch:GetMetricStatistics"))


def tear_down_benchmark_resources(res: Resources, role: iam.Role) -> None:
    """Delete (and check) the run's endpoint, endpoint configuration and model.

    No tag condition here: Teardown also runs after a failed create, when the resource may not
    exist, and a tag condition on a missing resource answers AccessDenied, not NotFound.
    """
    kinds = ("model", "endpoint-config", "endpoint")
    role.add_to_policy(
        iam.PolicyStatement(
            actions=[
                "sagemaker:DeleteEndpoint",
                "sagemaker:DeleteEndpointConfig",
                "sagemaker:DeleteModel",
                "sagemaker:DescribeEndpoint",
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:DescribeModel",
            ],
            resources=res.sagemaker.arns(*kinds),
        )
    )
    for text in res.sagemaker.arn_texts(*kinds):
        nag.wildcard_resource(role, text, "benchmark resources are named '<prefix>-<run-id>-…'")


def read_endpoint_logs(res: Resources, role: iam.Role) -> None:
    """The container's last log lines of a failed endpoint, so the failure can say why."""
    log_groups = res.sagemaker.endpoint_log_group_arn()
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:DescribeLogStreams", "logs:FilterLogEvents"], resources=[log_groups]
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(actions=["logs:GetLogEvents"], resources=[f"{log_groups}:log-stream:*"])
    )
    text = res.sagemaker.endpoint_log_group_text()
    why = "each benchmark endpoint logs to /aws/sagemaker/Endpoints/<its name>"
    nag.wildcard_resource(role, text, why)
    nag.wildcard_resource(role, f"{text}:log-stream:*", why)


def sweep_benchmark_resources(res: Resources, role: iam.Role) -> None:
    """Find the stack's leftover SageMaker resources and delete those tagged with a run id."""
    role.add_to_policy(
        iam.PolicyStatement(
            actions=[
                "sagemaker:ListEndpoints",
                "sagemaker:ListEndpointConfigs",
                "sagemaker:ListModels",
            ],
            resources=["*"],
        )
    )
    nag.wildcard_resource(role, "*", _NO_RESOURCE_LEVEL.format("SageMaker List* calls"))
    kinds = ("model", "endpoint-config", "endpoint")
    role.add_to_policy(
        iam.PolicyStatement(
            actions=[
                "sagemaker:ListTags",
                "sagemaker:DescribeEndpoint",
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:DescribeModel",
            ],
            resources=res.sagemaker.arns(*kinds),
        )
    )
    # It deletes what it finds, so beyond the name it must carry infercost's run-id tag.
    role.add_to_policy(
        iam.PolicyStatement(
            actions=[
                "sagemaker:DeleteEndpoint",
                "sagemaker:DeleteEndpointConfig",
                "sagemaker:DeleteModel",
            ],
            resources=res.sagemaker.arns(*kinds),
            conditions={"Null": {f"sagemaker:ResourceTag/{RUN_ID_TAG}": "false"}},
        )
    )
    for text in res.sagemaker.arn_texts(*kinds):
        nag.wildcard_resource(role, text, "benchmark resources are named '<prefix>-<run-id>-…'")


def publish_notifications(res: Resources, role: iam.Role) -> None:
    """Publish each run's outcome to the encrypted topic."""
    res.topic.grant_publish(role)
    res.key.grant(role, "kms:Decrypt", "kms:GenerateDataKey*")
    nag.wildcard_action(
        role, "kms:GenerateDataKey*", "SNS needs a data key of the topic's own key to encrypt"
    )


def read_slack_secret(res: Resources, role: iam.Role) -> None:
    """The Slack webhook URL."""
    res.slack_secret.grant_read(role)
    if res.config.slack_secret_name is not None:
        # A secret referenced by name has a random six-character suffix in its ARN.
        nag.wildcard_resource(
            role,
            nag.arn_text("secretsmanager", f"secret:{res.config.slack_secret_name}-??????"),
            "a secret referenced by name is matched with Secrets Manager's six-character suffix",
        )
