"""The janitor's schedule: sweep orphaned or over-age benchmark endpoints every few minutes.

An orphaned ml.p3.2xlarge costs about $100 a day, so this runs even when every evaluation
cleans up after itself. The function itself is one of the EvaluationFunctions.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import StackConfig


class Janitor(Construct):
    """An EventBridge schedule that invokes the janitor function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        function: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.rule = events.Rule(
            self,
            "Schedule",
            description=(
                "Delete infercost benchmark resources whose run ended or that are older than "
                f"{config.max_endpoint_age_minutes} minutes"
            ),
            schedule=events.Schedule.rate(Duration.minutes(config.janitor_schedule_minutes)),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                function,
                event=events.RuleTargetInput.from_object({"source": "schedule"}),
                retry_attempts=2,
            )
        )
