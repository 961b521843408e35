"""moto extension: aws-sdk task errors named as real Step Functions names them.

Step Functions names an `aws-sdk:` integration's error `<Service>.<Exception>`, the service and
exception in PascalCase as the AWS SDK for Java 2 spells them: a modelled SageMaker error is
`SageMaker.ResourceLimitExceededException`, and an unmodelled one (ThrottlingException,
ValidationException) is the SDK's base exception `SageMaker.SageMakerException`. moto 5.2.5
builds the same shape but keeps the lower-case service name ('sagemaker.sagemakerException')
for services missing from its table, so a Retry or Catch written for AWS would not match. The
extension adds the services infercost calls to that table.
"""

from __future__ import annotations

# boto3 service name -> the SDK's PascalCase name used in Step Functions error names.
SERVICE_ERROR_NAMES = {"sagemaker": "SageMaker"}


def install() -> None:
    """Teach moto's aws-sdk task the service names (idempotent)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as aws_sdk,
    )

    aws_sdk._SERVICE_ERROR_NAMES.update(SERVICE_ERROR_NAMES)
