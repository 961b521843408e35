"""The infercost stack: it reads like the architecture diagram, one construct per concern."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infercost.domain.doctor import STACK_OUTPUTS
from infercost.handlers import HANDLERS
from infra.config import StackConfig
from infra.constructs.alarms import Alarms
from infra.constructs.artifacts import ArtifactsBucket
from infra.constructs.encryption import EncryptionKey
from infra.constructs.functions import EvaluationFunctions
from infra.constructs.janitor import Janitor
from infra.constructs.notifications import Notifications
from infra.constructs.permissions import Resources
from infra.constructs.results_table import ResultsTable
from infra.constructs.sagemaker_access import SageMakerAccess
from infra.constructs.state_machine import EvaluationStateMachine

# Output names the CLI's `--stack` lookup and `infercost doctor` read.
OUTPUTS = STACK_OUTPUTS


class InfercostStack(Stack):
    """Upload -> EventBridge -> evaluation state machine -> results table, report, SNS, Slack."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        encryption = EncryptionKey(self, "Encryption", config=config)
        artifacts = ArtifactsBucket(self, "Artifacts", config=config)
        results = ResultsTable(self, "Results", key=encryption.key)
        notifications = Notifications(self, "Notifications", config=config, key=encryption.key)
        sagemaker = SageMakerAccess(self, "SageMaker", config=config, artifacts=artifacts.bucket)
        resources = Resources(
            config=config,
            artifacts=artifacts.bucket,
            table=results.table,
            topic=notifications.topic,
            key=encryption.key,
            slack_secret=notifications.slack_secret,
            sagemaker=sagemaker,
        )
        functions = EvaluationFunctions(self, "Functions", config=config, resources=resources)
        evaluation = EvaluationStateMachine(
            self,
            "Evaluation",
            config=config,
            resources=resources,
            functions={state: functions.by_state(state) for state in HANDLERS},
            janitor=functions.janitor,
        )
        artifacts.start_evaluations(evaluation.state_machine)
        Janitor(self, "Janitor", config=config, function=functions.janitor)
        Alarms(
            self,
            "Alarms",
            config=config,
            state_machine=evaluation.state_machine,
            topic=notifications.topic,
        )

        values = {
            "ArtifactsBucketName": artifacts.bucket.bucket_name,
            "ResultsTableName": results.table.table_name,
            "StateMachineArn": evaluation.state_machine.state_machine_arn,
            "CandidateStateMachineArn": evaluation.candidate_state_machine.state_machine_arn,
            "TopicArn": notifications.topic.topic_arn,
            "SlackSecretArn": notifications.slack_secret.secret_arn,
            "ExecutionRoleArn": sagemaker.execution_role.role_arn,
            "ResourcePrefix": config.resource_prefix,
            "ReportsPrefix": config.reports_prefix,
        }
        for name in OUTPUTS:
            CfnOutput(self, name, value=values[name])
