"""The stack's one customer-managed KMS key: created with rotation on, or given by ARN.

It encrypts the results table, the topic, the Slack secret, every log group the stack creates
and the functions' environment variables. The services that use it on their own need the key
policy's consent, which only a key the stack creates can be given here:

- CloudWatch Logs encrypts and decrypts log events as `logs.<region>.amazonaws.com`, held to
  the stack's log groups by the encryption context `kms:EncryptionContext:aws:logs:arn`
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html, "Step 2:
  Set permissions on the KMS key").
- CloudWatch alarms publish to the encrypted topic as `cloudwatch.amazonaws.com`, which needs
  `kms:Decrypt` and `kms:GenerateDataKey*` (https://docs.aws.amazon.com/sns/latest/dg/
  sns-key-management.html#compatibility-with-aws-services).

The roles of the stack get their use of the key through identity policies (the grant_* calls),
which the key policy's default statement for the account allows.
"""

from __future__ import annotations

from aws_cdk import Annotations, ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import StackConfig

# What CloudWatch Logs calls on a log group's key (the documented key policy statement).
LOGS_KEY_ACTIONS = (
    "kms:Encrypt*",
    "kms:Decrypt*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:Describe*",
)
# What CloudWatch alarms need to publish to a topic encrypted with the key.
ALARMS_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")
LOGS_CONTEXT_KEY = "kms:EncryptionContext:aws:logs:arn"
IMPORTED_KEY_WARNING = "infercost:imported-kms-key-policy"


def function_log_group_name(stack_name: str, function: str) -> str:
    """'/infercost/functions/PrepareFunction': the stack's name scopes the key policy to it."""
    return f"/{stack_name}/functions/{function}"


def log_group_name_patterns(stack_name: str) -> list[str]:
    """Every log group the stack creates is named like one of these (a test checks it)."""
    return [
        function_log_group_name(stack_name, "*"),
        # The workflow's (infra/constructs/state_machine.py): vended logs of Step Functions.
        f"/aws/vendedlogs/states/{stack_name}-*",
    ]


class EncryptionKey(Construct):
    """`key`: the KMS key of everything the stack stores; `created` is False for a given key."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.log_group_arns = [
            stack.format_arn(
                service="logs",
                resource="log-group",
                resource_name=pattern,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for pattern in log_group_name_patterns(stack.stack_name)
        ]
        self.created = config.kms_key_arn is None
        if config.kms_key_arn is not None:
            self.key: kms.IKey = kms.Key.from_key_arn(self, "Key", config.kms_key_arn)
            Annotations.of(self).add_warning_v2(IMPORTED_KEY_WARNING, self._imported_key_message(stack))
            return
        key = kms.Key(
            self,
            "Key",
            description=f"infercost ({stack.stack_name}): results, notifications, secret, logs, function settings",
            # AWS KMS then makes new key material every year (docs.aws.amazon.com/kms/latest/
            # developerguide/rotating-keys-enable.html); the key ARN and policy stay the same.
            enable_key_rotation=True,
            pending_window=Duration.days(7),
            # The results table outlives the stack (RETAIN) and stays readable only with its key.
            removal_policy=RemovalPolicy.RETAIN,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsOfThisStack",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=list(LOGS_KEY_ACTIONS),
                resources=["*"],
                conditions={"ArnLike": {LOGS_CONTEXT_KEY: self.log_group_arns}},
            )
        )
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), *ALARMS_KEY_ACTIONS)
        self.key = key

    def _imported_key_message(self, stack: Stack) -> str:
        patterns = ", ".join(log_group_name_patterns(stack.stack_name))
        return (
            "infercost:kms_key_arn names a key this stack cannot change the policy of. Its key "
            "policy must already allow: the account's IAM policies (the default root statement); "
            f"logs.<region>.amazonaws.com to {', '.join(LOGS_KEY_ACTIONS)} where {LOGS_CONTEXT_KEY} "
            f"is one of the log groups {patterns}; cloudwatch.amazonaws.com to "
            f"{' and '.join(ALARMS_KEY_ACTIONS)} (alarms publish to the encrypted topic). "
            "See docs/deploy.md, 'Bring your own KMS key'."
        )
