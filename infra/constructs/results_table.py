"""The results table: runs, candidates, trigger guard (docs/architecture.md, "Results table").

Its keys and index come from `infercost.data.store.table_definition()`, the same definition the
local demo creates, so the deployed table and the one the code is tested against cannot drift.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from infercost.data.store import TTL_ATTRIBUTE, table_definition

_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


def _keys(
    key_schema: list[dict[str, str]], types: dict[str, str]
) -> tuple[dynamodb.Attribute, dynamodb.Attribute | None]:
    roles = {key["KeyType"]: key["AttributeName"] for key in key_schema}

    def attribute(name: str) -> dynamodb.Attribute:
        return dynamodb.Attribute(name=name, type=_TYPES[types[name]])

    sort = roles.get("RANGE")
    return attribute(roles["HASH"]), attribute(sort) if sort else None


class ResultsTable(Construct):
    """One on-demand table; `by-run` finds a run's items by run id; TTL expires bulky raw data."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        definition: dict[str, Any] = table_definition()
        if definition.get("BillingMode") != "PAY_PER_REQUEST":
            raise ValueError("the results table is on-demand (BillingMode PAY_PER_REQUEST)")
        types = {a["AttributeName"]: a["AttributeType"] for a in definition["AttributeDefinitions"]}
        partition_key, sort_key = _keys(definition["KeySchema"], types)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=partition_key,
            sort_key=sort_key,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            # The history of recommendations outlives the stack.
            removal_policy=RemovalPolicy.RETAIN,
        )
        for index in definition.get("GlobalSecondaryIndexes", []):
            index_partition, index_sort = _keys(index["KeySchema"], types)
            if index["Projection"]["ProjectionType"] != "ALL":
                raise ValueError(f"index {index['IndexName']}: only projection ALL is supported")
            self.table.add_global_secondary_index(
                index_name=index["IndexName"],
                partition_key=index_partition,
                sort_key=index_sort,
                projection_type=dynamodb.ProjectionType.ALL,
            )
