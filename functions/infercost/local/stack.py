"""The embedded stack: what `cdk deploy` creates, on moto with infercost's extensions.

`EmbeddedStack` starts moto (in-process, or as a server on a free loopback port for the demo and
the CLI's `--endpoint-url`), installs the extensions, and provisions what the CDK stack would:
the artifacts bucket with EventBridge notifications, the results table, the topic, the Slack
secret, one Lambda function per handler, the state machine from the real ASL file with its
substitutions, and the EventBridge rule that starts it. Leaving the context stops every model
server and moto, and restores the environment.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import threading
import zipfile
from collections.abc import Iterable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any, Literal

from infercost.data.environment import env_name
from infercost.domain.models import SIMULATED_HARDWARE
from infercost.handlers import HANDLERS, JANITOR, function_name, handler_path
from infercost.local import output
from infercost.local.calls import CallRecorder
from infercost.local.faults import Faults
from infercost.local.observe import ACCOUNT_ID, StackObserver
from infercost.local.runtime import LocalRuntime, activate, deactivate
from infercost.local.webhook import WebhookReceiver

STATEMACHINE_DIR_ENV = "INFERCOST_STATEMACHINE_DIR"
# The run's workflow and the workflow each candidate runs in (its own execution and history).
EVALUATE_DEFINITION = "evaluate.asl.json"
CANDIDATE_DEFINITION = "candidate.asl.json"
# Waits of seconds, not minutes: the local endpoints are up at once and metrics are flushed often.
FAST_TIMING: dict[str, int] = {
    "max_concurrency": 4,
    "endpoint_poll_seconds": 0,
    "endpoint_deadline_seconds": 60,
    "metrics_delay_seconds": 0,
    "metrics_poll_seconds": 1,
    "metrics_deadline_seconds": 20,
    # moto keeps each value's exact timestamp, so the measured run needs no minute of its own.
    "align_to_minute": False,
    "metrics_flush_seconds": 0,
    "teardown_settle_seconds": 2,
}
Mode = Literal["inprocess", "server"]


def definition_path(name: str) -> Path:
    """statemachine/<name> of this checkout (or of the folder in INFERCOST_STATEMACHINE_DIR)."""
    folder = os.environ.get(STATEMACHINE_DIR_ENV)
    return (Path(folder) if folder else Path(__file__).resolve().parents[3] / "statemachine") / name


def substitute(definition: str, substitutions: Mapping[str, str]) -> str:
    """Replace each `${Key}` as CloudFormation's DefinitionSubstitutions does."""
    for key, value in substitutions.items():
        definition = definition.replace("${" + key + "}", value)
    return definition


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _code_zip() -> bytes:
    # The handlers run in-process; the function's code package only has to be a valid zip.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "infercost handlers run in-process on the local stack\n")
    return buffer.getvalue()


class EmbeddedStack(StackObserver):
    """The CDK stack's resources on moto, with real handlers and local model servers."""

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        mode: Mode = "inprocess",
        faults: Faults | Iterable[str] | str | None = None,
        quotas: Mapping[str, int] | None = None,
        timing: Mapping[str, int] | None = None,
        stack_defaults: Mapping[str, Any] | None = None,
        resource_prefix: str = "infercost",
        key_prefix: str = "models/",
        key_suffix: str = ".tar.gz",
        slack_webhook_url: str | None = None,
        slack: bool = False,
        polls_until_ready: int = 1,
        deleting_looks: int = 0,
        name: str = "infercost",
        prices: Literal["live", "snapshot"] = "live",
        cloudformation: bool = False,
    ) -> None:
        self.region = region
        # As deployed, the functions ask the Price List API (served here from the snapshot by
        # local/pricing_api.py); the demo prices from the snapshot alone.
        self.prices: Literal["live", "snapshot"] = prices
        self.mode: Mode = mode
        self.faults = faults if isinstance(faults, Faults) else Faults.of(faults)
        self.quotas = dict(quotas or {})
        self.timing = {**FAST_TIMING, **dict(timing or {})}
        self.stack_defaults = dict(stack_defaults or {})
        self.resource_prefix = resource_prefix
        self.key_prefix = key_prefix
        self.key_suffix = key_suffix
        self.slack_webhook_url = slack_webhook_url
        # A local receiver stands in for Slack when asked (and no URL is given).
        self.slack = WebhookReceiver() if slack and not slack_webhook_url else None
        self._sns_inbox: list[dict[str, Any]] = []
        self._queue_url = ""
        self.polls_until_ready = polls_until_ready
        self.deleting_looks = deleting_looks
        self.name = name
        # Functions created through a CloudFormation stack with the deployed one's outputs
        # (local/cloudformation.py), for what reads a stack: `infercost doctor`, `--stack`.
        self.cloudformation = cloudformation
        self.bucket = f"{name}-artifacts-{ACCOUNT_ID}"
        self.table_name = f"{name}-results"
        self.endpoint_url: str | None = None
        self.runtime: LocalRuntime | None = None
        self.topic_arn = f"arn:aws:sns:{region}:{ACCOUNT_ID}:{name}-notifications"
        self.secret_arn: str | None = None
        self.state_machine_arn = ""
        # Known before it exists: the evaluation workflow's definition names it.
        self.candidate_state_machine_arn = (
            f"arn:aws:states:{region}:{ACCOUNT_ID}:stateMachine:{name}-candidate"
        )
        # What Lambda names the functions (known before they exist, for the substitutions).
        self.function_arns = {
            state: f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}-{function_name(state)}"
            for state in [*HANDLERS, JANITOR]
        }
        self.execution_role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{name}-sagemaker-execution"
        self.leaked_servers: list[str] = []
        # Kept by the stack so that what was recorded can be read after it stops.
        self._calls = CallRecorder()
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._saved_env: dict[str, str] | None = None
        self._mock: Any = None
        self._server: Any = None
        self._config_patch: Any = None
        self._moto_log_level = logging.NOTSET
        self._werkzeug_log_level = logging.NOTSET
        self._output_installed = False

    # --- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> EmbeddedStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start moto, install the extensions, provision the stack's resources."""
        self._saved_env = dict(os.environ)
        # moto logs every failed state at WARNING with its whole parse tree; the workflow's own
        # records say what failed.
        self._moto_log_level = logging.getLogger("moto").level
        logging.getLogger("moto").setLevel(logging.CRITICAL)
        # The moto server (werkzeug) would log every request to stderr, under the demo's view.
        self._werkzeug_log_level = logging.getLogger("werkzeug").level
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        os.environ["AWS_DEFAULT_REGION"] = self.region
        os.environ["AWS_REGION"] = self.region
        try:
            self._start_moto()
            install_extensions()
            output.install()
            self._output_installed = True
            self.runtime = LocalRuntime(
                client=self.client,
                region=self.region,
                account_id=ACCOUNT_ID,
                faults=self.faults,
                quotas=self.quotas,
                polls_until_ready=self.polls_until_ready,
                deleting_looks=self.deleting_looks,
                calls=self._calls,
            )
            self._calls.install()
            activate(self.runtime)
            if self.slack is not None:
                self.slack_webhook_url = self.slack.start()
            from infercost.measurement import targets

            targets.register_endpoint_resolver(self.runtime.resolve_endpoint)
            self._provision()
        except BaseException:
            self.stop()
            raise

    def _start_moto(self) -> None:
        from unittest.mock import patch

        from moto.core.config import default_user_config

        config: Any = {
            "stepfunctions": {"execute_state_machine": True},
            "lambda": {"use_docker": False},
        }
        if self.mode == "server":
            from moto.server import ThreadedMotoServer

            port = free_port()
            self._config_patch = patch.dict(default_user_config, config)
            self._config_patch.start()
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            self._server.start()
            self.endpoint_url = f"http://127.0.0.1:{port}"
            # Handlers (in-process) reach the server through boto3's endpoint variable; moto's
            # Step Functions worker reaches it on MOTO_PORT.
            os.environ["AWS_ENDPOINT_URL"] = self.endpoint_url
            os.environ["MOTO_PORT"] = str(port)
        else:
            from moto import mock_aws

            os.environ.pop("AWS_ENDPOINT_URL", None)
            self._mock = mock_aws(config=config)
            self._mock.start()

    def stop(self) -> None:
        """Stop executions, model servers and moto; restore the environment."""
        from infercost.data import clients as aws
        from infercost.handlers._shared import reset_settings

        if self.slack is not None:
            self.slack.stop()
        if self.runtime is not None:
            with suppress(Exception):
                self._stop_running_executions()
            self.leaked_servers = self.runtime.stop_all()
            deactivate(self.runtime)
            from infercost.measurement import targets

            targets.clear_endpoint_resolvers()
            self.runtime = None
        if self._output_installed:
            output.uninstall()
            self._output_installed = False
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if self._server is not None:
            self._server.stop()
            self._server = None
            from moto.moto_api._internal.models import moto_api_backend

            moto_api_backend.reset()
        if self._config_patch is not None:
            self._config_patch.stop()
            self._config_patch = None
        self._clients.clear()
        from infercost.local import stepfunctions

        stepfunctions.clear_clients()
        if self._saved_env is not None:
            os.environ.clear()
            os.environ.update(self._saved_env)
            self._saved_env = None
        reset_settings()
        self._calls.uninstall()
        aws.clear_clients()
        logging.getLogger("moto").setLevel(self._moto_log_level)
        logging.getLogger("werkzeug").setLevel(self._werkzeug_log_level)

    def _stop_running_executions(self) -> None:
        sfn = self.client("stepfunctions")
        for arn in (self.state_machine_arn, self.candidate_state_machine_arn):
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
                for execution in page["executions"]:
                    if execution["status"] == "RUNNING":
                        sfn.stop_execution(
                            executionArn=execution["executionArn"], cause="local stack stopped"
                        )

    # --- resources ------------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """A boto3 client of the local stack (thread-safe, cached per service)."""
        with self._clients_lock:
            found = self._clients.get(service)
            if found is None:
                import boto3

                session = boto3.session.Session()
                found = session.client(service, region_name=self.region, endpoint_url=self.endpoint_url)
                self._clients[service] = found
            return found

    @property
    def store(self) -> Any:
        from infercost.data.store import ResultsStore

        return ResultsStore(self.client("dynamodb"), self.table_name)

    def function_env(self) -> dict[str, str]:
        """The Lambda environment the CDK stack sets (docs/architecture.md)."""
        defaults = {
            **self.stack_defaults,
            "workflow": {**self.timing, **self.stack_defaults.get("workflow", {})},
        }
        env = {
            env_name("table_name"): self.table_name,
            env_name("artifacts_bucket"): self.bucket,
            env_name("reports_prefix"): "reports/",
            env_name("topic_arn"): self.topic_arn,
            env_name("resource_prefix"): self.resource_prefix,
            env_name("execution_role_arn"): self.execution_role_arn,
            env_name("defaults"): json.dumps(defaults),
            env_name("max_endpoint_age_minutes"): "180",
            env_name("simulated_note"): SIMULATED_HARDWARE,
            env_name("price_list"): self.prices,
            "POWERTOOLS_SERVICE_NAME": "infercost",
            "POWERTOOLS_METRICS_NAMESPACE": "infercost",
        }
        if self.secret_arn:
            env[env_name("slack_secret_arn")] = self.secret_arn
        return env

    def _set_function_env(self) -> None:
        from infercost.data import clients as aws
        from infercost.handlers._shared import reset_settings

        # Handlers run in this process, so the functions' environment is the process's.
        os.environ.update(self.function_env())
        reset_settings()
        aws.clear_clients()

    def substitutions(self) -> dict[str, str]:
        """The DefinitionSubstitutions the CDK stack passes to the state machine."""
        values = {f"{state}FunctionArn": self.function_arns[state] for state in HANDLERS}
        values["JanitorFunctionArn"] = self.function_arns[JANITOR]
        values.update(
            CandidateStateMachineArn=self.candidate_state_machine_arn,
            TableName=self.table_name,
            ResourcePrefix=self.resource_prefix,
            ExecutionRoleArn=self.execution_role_arn,
            TopicArn=self.topic_arn,
        )
        return values

    def event_pattern(self) -> dict[str, Any]:
        """The rule's pattern: Object Created in the bucket, key `<prefix>*<suffix>`."""
        return {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {
                "bucket": {"name": [self.bucket]},
                "object": {"key": [{"wildcard": f"{self.key_prefix}*{self.key_suffix}"}]},
            },
        }

    def _role(self, name: str, service: str) -> str:
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
        role = self.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        arn: str = role["Role"]["Arn"]
        return arn

    def _provision(self) -> None:
        from infercost.data.store import create_table

        lambda_role = self._role(f"{self.name}-functions", "lambda.amazonaws.com")
        sfn_role = self._role(f"{self.name}-state-machine", "states.amazonaws.com")
        events_role = self._role(f"{self.name}-events", "events.amazonaws.com")
        self.execution_role_arn = self._role(f"{self.name}-sagemaker-execution", "sagemaker.amazonaws.com")

        s3 = self.client("s3")
        if self.region == "us-east-1":
            s3.create_bucket(Bucket=self.bucket)
        else:
            s3.create_bucket(
                Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": self.region}
            )
        s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        create_table(self.client("dynamodb"), self.table_name)
        sns = self.client("sns")
        sns.create_topic(Name=self.topic_arn.rsplit(":", 1)[-1])
        # An SQS queue subscribed to the topic stands in for the team's e-mail subscription.
        sqs = self.client("sqs")
        self._queue_url = sqs.create_queue(QueueName=f"{self.name}-notifications-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        if self.slack_webhook_url or self.cloudformation:
            # The deployed stack always has the secret: a random placeholder until a URL is put in.
            self.secret_arn = self.client("secretsmanager").create_secret(
                Name=f"{self.name}/slack-webhook", SecretString=self.slack_webhook_url or "placeholder-8Zq1xV"
            )["ARN"]
        self._set_function_env()

        functions = self.client("lambda")
        code = _code_zip()
        definitions: dict[str, dict[str, Any]] = {}
        for state, module in [*HANDLERS.items(), (JANITOR, JANITOR)]:
            definitions[function_name(state)] = {
                "FunctionName": f"{self.name}-{function_name(state)}",
                "Runtime": "python3.12",
                "Role": lambda_role,
                "Handler": handler_path(module),
                "Timeout": 900,
                "MemorySize": 1024,
                "Environment": {"Variables": self.function_env()},
            }
            if self.cloudformation:
                continue
            created = functions.create_function(**definitions[function_name(state)], Code={"ZipFile": code})
            if created["FunctionArn"] != self.function_arns[state]:
                raise RuntimeError(f"Lambda named {state}'s function {created['FunctionArn']}")

        sfn = self.client("stepfunctions")
        candidate = substitute(
            definition_path(CANDIDATE_DEFINITION).read_text(encoding="utf-8"), self.substitutions()
        )
        created = sfn.create_state_machine(
            name=f"{self.name}-candidate", definition=candidate, roleArn=sfn_role
        )
        if created["stateMachineArn"] != self.candidate_state_machine_arn:
            raise RuntimeError(f"Step Functions named the candidate workflow {created['stateMachineArn']}")
        definition = substitute(
            definition_path(EVALUATE_DEFINITION).read_text(encoding="utf-8"), self.substitutions()
        )
        self.state_machine_arn = sfn.create_state_machine(
            name=f"{self.name}-evaluate", definition=definition, roleArn=sfn_role
        )["stateMachineArn"]

        events = self.client("events")
        events.put_rule(
            Name=f"{self.name}-artifact-uploaded",
            EventPattern=json.dumps(self.event_pattern()),
            State="ENABLED",
        )
        events.put_targets(
            Rule=f"{self.name}-artifact-uploaded",
            Targets=[{"Id": "evaluate", "Arn": self.state_machine_arn, "RoleArn": events_role}],
        )
        if self.cloudformation:
            from infercost.local import cloudformation

            cloudformation.deploy(self.client("cloudformation"), self.name, definitions, self.outputs())

    def outputs(self) -> dict[str, str]:
        """The deployed stack's outputs (infra/infercost_stack.py), for this stack."""
        outputs = {
            "ArtifactsBucketName": self.bucket,
            "ResultsTableName": self.table_name,
            "StateMachineArn": self.state_machine_arn,
            "CandidateStateMachineArn": self.candidate_state_machine_arn,
            "TopicArn": self.topic_arn,
            "SlackSecretArn": self.secret_arn or "",
            "ExecutionRoleArn": self.execution_role_arn,
            "ResourcePrefix": self.resource_prefix,
            "ReportsPrefix": "reports/",
        }
        return {key: value for key, value in outputs.items() if value}

    # --- driving it ---------------------------------------------------------------------------

    def put_object(self, key: str, body: bytes | str) -> dict[str, Any]:
        data = body.encode("utf-8") if isinstance(body, str) else body
        response: dict[str, Any] = self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=data)
        return response

    def upload_model(
        self,
        key: str,
        *,
        spec: Mapping[str, Any] | str | bytes | None = None,
        artifact: bytes = b"local model artifact",
        files: Mapping[str, bytes | str] | None = None,
    ) -> dict[str, Any]:
        """Upload the spec and other files beside the artifact, then the artifact (the trigger).

        A "no-quota" fault takes the target candidate's instance type out of the quota table.
        """
        folder = key.rpartition("/")[0]
        for name, body in (files or {}).items():
            self.put_object(f"{folder}/{name}" if folder else name, body)
        if spec is not None:
            text = spec if isinstance(spec, (str, bytes)) else json.dumps(spec)
            self.put_object(f"{folder}/infercost.json" if folder else "infercost.json", text)
            self._apply_quota_fault(spec)
        return self.put_object(key, artifact)

    def _apply_quota_fault(self, spec: Mapping[str, Any] | str | bytes) -> None:
        if "no-quota" not in self.faults.points or not isinstance(spec, Mapping):
            return
        candidates = spec.get("candidates") or []
        if len(candidates) > self.faults.target_index:
            instance_type = candidates[self.faults.target_index].get("instance_type")
            if instance_type:
                self.quotas[instance_type] = 0
                if self.runtime is not None:
                    self.runtime.quotas[instance_type] = 0

    def inject(self, points: Iterable[str] | str | None, *, target_index: int = 0) -> None:
        """Switch fault points on (replacing the current ones) for the next runs."""
        self.faults = Faults.of(points, target_index=target_index)
        if self.runtime is not None:
            self.runtime.faults = self.faults

    def evaluate(
        self,
        key: str,
        *,
        spec: Mapping[str, Any] | str | bytes | None = None,
        files: Mapping[str, bytes | str] | None = None,
        timeout_s: float = 60.0,
    ) -> list[dict[str, Any]]:
        """Upload a model (spec, files, artifact) and wait for the executions it starts."""
        before = {e["executionArn"] for e in self.executions()}
        self.upload_model(key, spec=spec, files=files)
        return self.wait_for_new(before, timeout_s=timeout_s)

    def start_execution(self, execution_input: Mapping[str, Any], *, name: str | None = None) -> str:
        """Start the state machine directly (as EventBridge would), e.g. to redeliver an event."""
        import uuid

        arn: str = self.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn,
            name=name or str(uuid.uuid4()),
            input=json.dumps(dict(execution_input)),
        )["executionArn"]
        return arn


def install_extensions() -> None:
    """Install every moto extension of the local stack (each is idempotent)."""
    from infercost.local import (
        bucket_events,
        cloudwatch,
        eventbridge,
        lambda_invoke,
        pricing_api,
        sagemaker,
        servicequotas,
        stepfunctions,
    )

    bucket_events.install()
    cloudwatch.install()
    pricing_api.install()
    stepfunctions.install()
    lambda_invoke.install()
    eventbridge.install()
    sagemaker.install()
    servicequotas.install()
