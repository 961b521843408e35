"""moto extension: Step Functions details that differ from AWS in moto 5.2.5.

- Error names of `aws-sdk:` tasks. Step Functions names them `<Service>.<Exception>`, service and
  exception in PascalCase as the AWS SDK for Java 2 spells them: a modelled SageMaker error is
  `SageMaker.ResourceLimitExceededException`, an unmodelled one (ThrottlingException,
  ValidationException) the SDK's base exception `SageMaker.SageMakerException`. moto builds the
  same shape but keeps the lower-case service name ('sagemaker.sagemakerException') for services
  missing from its table, so a Retry or Catch written for AWS would not match. The extension
  adds the services infercost calls to that table.
- `$$.Execution.StartTime` is an ISO-8601 string on AWS ('2024-05-01T12:00:00.123Z'); moto puts
  a datetime object there, which no task can serialize.
- `states:startExecution` tasks (optimized integration, `.sync:2` included). moto passes the
  ASL's PascalCase parameters (`StateMachineArn`, `Name`, `Input`) to boto3, which takes them in
  camelCase, so every such task fails with `States.Runtime`; and it returns DescribeExecution's
  camelCase keys where Step Functions returns `Output`, `Status`, ... The extension converts
  both ways, and gives the output's timestamps as Step Functions does (epoch milliseconds).
- moto builds a new boto3 client for every task it runs (a few hundred milliseconds each on a
  busy machine); the clients are reused here, per region and service.
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime
from typing import Any

# boto3 service name -> the SDK's PascalCase name used in Step Functions error names.
SERVICE_ERROR_NAMES = {"sagemaker": "SageMaker"}
_originals: dict[str, Any] = {}
_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()


def iso_timestamp(moment: datetime) -> str:
    """The context object's time format: ISO-8601 UTC with milliseconds and 'Z'."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _get_evaluation_environment(self: Any) -> Any:
    env = _originals["environment"](self)
    execution = env.states.context_object.context_object_data["Execution"]
    if isinstance(execution.get("StartTime"), datetime):
        execution["StartTime"] = iso_timestamp(execution["StartTime"])
    return env


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _sfn_parameters(self: Any, parameters: dict[str, Any], *args: Any, **kwargs: Any) -> None:
    _originals["sfn_parameters"](self, parameters, *args, **kwargs)
    for key in list(parameters):
        parameters[_camel(key)] = parameters.pop(key)


def _sfn_response(self: Any, response: Any, *args: Any, **kwargs: Any) -> None:
    _originals["sfn_response"](self, response, *args, **kwargs)
    if not isinstance(response, dict):
        return
    for key in list(response):
        value = response.pop(key)
        if isinstance(value, datetime):
            value = int(value.timestamp() * 1000)
        response[_pascal(key)] = value


def _cached_client(region: str, service: str, state_credentials: Any = None) -> Any:
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port

    # In-process (moto intercepting boto3) or against a server on MOTO_PORT: one client for each.
    key = (region, service, botocore_stubber.enabled, moto_server_port())
    with _clients_lock:
        found = _clients.get(key)
        if found is None:
            found = _originals["client"](region=region, service=service, state_credentials=state_credentials)
            _clients[key] = found
        return found


def clear_clients() -> None:
    with _clients_lock:
        _clients.clear()


def install() -> None:
    """Patch moto's Step Functions interpreter (idempotent)."""
    # Import the task modules that call AWS, so that each has bound boto_client_for.
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils  # noqa: F401
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as aws_sdk,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: F401
        state_task_service_dynamodb,
        state_task_service_sfn,
        state_task_service_sns,
    )
    from moto.stepfunctions.parser.asl.utils import boto_client
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    aws_sdk._SERVICE_ERROR_NAMES.update(SERVICE_ERROR_NAMES)
    sfn = state_task_service_sfn.StateTaskServiceSfn
    if "sfn_parameters" not in _originals:
        _originals["sfn_parameters"] = sfn._normalise_parameters
        _originals["sfn_response"] = sfn._normalise_response
        sfn._normalise_parameters = _sfn_parameters  # type: ignore[method-assign]
        sfn._normalise_response = _sfn_response  # type: ignore[method-assign]
    if "client" not in _originals:
        _originals["client"] = boto_client.boto_client_for
    # Each task module imported the function by name: replace it where it was imported.
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and (
            getattr(module, "boto_client_for", None) is _originals["client"]
        ):
            module.boto_client_for = _cached_client  # type: ignore[attr-defined]
    if "environment" not in _originals:
        _originals["environment"] = ExecutionWorker._get_evaluation_environment
        ExecutionWorker._get_evaluation_environment = _get_evaluation_environment  # type: ignore[method-assign]
