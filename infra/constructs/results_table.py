"""The results table: runs, candidates, trigger guard (docs/architecture.md, "Results table")."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

PARTITION_KEY = "PK"
SORT_KEY = "SK"
BY_RUN_INDEX = "by-run"
RUN_ID_ATTRIBUTE = "run_id"
TTL_ATTRIBUTE = "expires_at"


class ResultsTable(Construct):
    """One on-demand table; `by-run` finds a run's items by run id; TTL expires bulky raw data."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        string = dynamodb.AttributeType.STRING
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=string),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=string),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            # The history of recommendations outlives the stack.
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.table.add_global_secondary_index(
            index_name=BY_RUN_INDEX,
            partition_key=dynamodb.Attribute(name=RUN_ID_ATTRIBUTE, type=string),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=string),
            projection_type=dynamodb.ProjectionType.ALL,
        )
