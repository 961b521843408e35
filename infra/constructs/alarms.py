"""Alarms a person must hear about: a failed evaluation, and an endpoint that outlived its run."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import StackConfig

# Published by the janitor on every run, 0 when none (docs/architecture.md, "Operational metrics").
METRICS_NAMESPACE = "infercost"
ENDPOINTS_OVER_MAX_AGE = "EndpointsOverMaxAge"


class Alarms(Construct):
    """Both alarms notify the stack's topic when they fire and when they clear."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        state_machine: sfn.IStateMachine,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self.failed_executions = cloudwatch.Alarm(
            self,
            "EvaluationFailed",
            alarm_description=("An infercost evaluation failed; its run record and notification say why."),
            metric=state_machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        # The janitor reports every janitor_schedule_minutes; a window twice as long always holds
        # a datapoint, so missing data means the janitor itself stopped and also alarms.
        window = Duration.minutes(2 * config.janitor_schedule_minutes)
        self.endpoints_over_max_age = cloudwatch.Alarm(
            self,
            "EndpointOverMaxAge",
            alarm_description=(
                f"A benchmark endpoint is older than {config.max_endpoint_age_minutes} minutes, or "
                "the janitor stopped reporting. Check SageMaker endpoints named "
                f"'{config.resource_prefix}-*': each costs money until deleted."
            ),
            metric=cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=ENDPOINTS_OVER_MAX_AGE,
                dimensions_map={"service": config.resource_prefix},
                statistic="Maximum",
                period=window,
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        for alarm in (self.failed_executions, self.endpoints_over_max_age):
            alarm.add_alarm_action(actions.SnsAction(topic))
            alarm.add_ok_action(actions.SnsAction(topic))
