"""The artifacts bucket and the trigger: uploading a model artifact starts an evaluation."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import nag
from infra.config import StackConfig

# How long server access logs (and their overwritten or deleted versions) are kept.
ACCESS_LOG_DAYS = 90


class ArtifactsBucket(Construct):
    """Model artifacts with their `infercost.json` specs (`models/…`) and reports (`reports/…`)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        # Versioned, so that an overwritten or deleted access log (the record of who read which
        # artifact) can be recovered. Security Hub control S3.14, "S3 general purpose buckets
        # should have versioning enabled":
        # https://docs.aws.amazon.com/securityhub/latest/userguide/s3-controls.html#s3-14
        # Old versions expire with the logs, so nothing is kept forever.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            versioned=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(ACCESS_LOG_DAYS),
                    noncurrent_version_expiration=Duration.days(ACCESS_LOG_DAYS),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Versioning lets the trigger guard key a run on the object's version id, and keeps the
        # exact artifact a recommendation was made for.
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            versioned=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            event_bridge_enabled=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="artifacts/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

    def start_evaluations(self, state_machine: sfn.IStateMachine) -> events.Rule:
        """Start `state_machine` with the unmodified event for every matching `Object Created`."""
        rule = events.Rule(
            self,
            "ArtifactUploaded",
            description=(f"Evaluate each model artifact uploaded as {self.config.artifact_key_pattern}"),
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [self.bucket.bucket_name]},
                    "object": {"key": events.Match.wildcard(self.config.artifact_key_pattern)},
                },
            ),
        )
        rule.add_target(targets.SfnStateMachine(state_machine))
        self._acknowledge_notifications_handler()
        return rule

    def _acknowledge_notifications_handler(self) -> None:
        # `event_bridge_enabled` is applied by a singleton custom resource CDK adds to the stack.
        stack = Stack.of(self)
        for child in stack.node.children:
            if child.node.id.startswith("BucketNotificationsHandler"):
                nag.acknowledge(
                    child,
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaBasicExecutionRole]",
                    "CDK's own deploy-time handler that switches on the bucket's EventBridge "
                    "notifications; it only writes its own logs",
                )
