"""Where results go: the SNS topic (KMS, TLS only), its email subscription, the Slack secret.

Both are encrypted with the stack's key (constructs/encryption.py), whose policy lets
CloudWatch alarms publish to the topic.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra import nag
from infra.config import StackConfig


class Notifications(Construct):
    """The topic for every run's outcome and every alarm, and the Slack webhook secret."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        # CloudWatch alarms publish to the encrypted topic: the AWS-managed SNS key would not let
        # them, the stack's key does (constructs/encryption.py).
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="infercost",
            master_key=key,
            enforce_ssl=True,
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        if config.notification_email is not None:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.notification_email))

        if config.slack_secret_name is not None:
            self.slack_secret: secretsmanager.ISecret = secretsmanager.Secret.from_secret_name_v2(
                self, "SlackWebhook", config.slack_secret_name
            )
        else:
            # Created with a random placeholder; put the webhook URL into it after deploying
            # (docs/deploy.md). Notify posts to Slack only when the value is an https URL.
            created = secretsmanager.Secret(
                self,
                "SlackWebhook",
                description="Slack incoming-webhook URL for infercost notifications",
                encryption_key=key,
            )
            nag.acknowledge(
                created,
                "AwsSolutions-SMG4",
                "a Slack incoming-webhook URL is issued by Slack and cannot be rotated by a Lambda",
            )
            self.slack_secret = created
