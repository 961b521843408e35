"""Looking at a running embedded stack: its executions and their histories, the notifications and
Slack messages it sent, what is left in SageMaker, the calls each function made; and invoking the
janitor as its schedule does."""

from __future__ import annotations

import json
import time
from typing import Any

from infercost.domain.workflow import run_identity
from infercost.handlers import JANITOR
from infercost.local.calls import CallRecorder
from infercost.local.runtime import LocalRuntime
from infercost.local.webhook import WebhookReceiver

ACCOUNT_ID = "123456789012"
FINISHED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


class StackObserver:
    """What tests and the demo read off an `EmbeddedStack` (mixed into it)."""

    name: str
    region: str
    state_machine_arn: str
    candidate_state_machine_arn: str
    function_arns: dict[str, str]
    runtime: LocalRuntime | None
    slack: WebhookReceiver | None
    _queue_url: str
    _sns_inbox: list[dict[str, Any]]
    _calls: CallRecorder

    def client(self, service: str) -> Any:
        raise NotImplementedError

    def wait_for_new(
        self, before: set[str], *, count: int = 1, timeout_s: float = 60.0
    ) -> list[dict[str, Any]]:
        """Wait until `count` executions not in `before` exist and have finished."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout_s
        while True:
            new = [e for e in self.executions() if e["executionArn"] not in before]
            if len(new) >= count and all(e["status"] in FINISHED for e in new):
                return [sfn.describe_execution(executionArn=e["executionArn"]) for e in new]
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(new)} of {count} new executions after {timeout_s:.0f} s, "
                    f"statuses {[e['status'] for e in new]}"
                )
            time.sleep(0.05)

    def executions(self) -> list[dict[str, Any]]:
        pages = self.client("stepfunctions").get_paginator("list_executions")
        found: list[dict[str, Any]] = []
        for page in pages.paginate(stateMachineArn=self.state_machine_arn):
            found.extend(page["executions"])
        return found

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """The execution's events, every page of them."""
        pages = self.client("stepfunctions").get_paginator("get_execution_history")
        events: list[dict[str, Any]] = []
        for page in pages.paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return events

    def run_history(self, execution_arn: str) -> list[dict[str, Any]]:
        """The run's events: its execution's, then each candidate execution's in candidate order."""
        events = self.history(execution_arn)
        for child in self.candidate_executions(execution_arn):
            events.extend(self.history(child["executionArn"]))
        return events

    def candidate_executions(self, execution_arn: str) -> list[dict[str, Any]]:
        """The candidate executions a run's execution started (named '<run id>-<index>')."""
        run_id = run_identity(execution_arn)
        pages = self.client("stepfunctions").get_paginator("list_executions")
        found: list[dict[str, Any]] = []
        for page in pages.paginate(stateMachineArn=self.candidate_state_machine_arn):
            found.extend(e for e in page["executions"] if e["name"].startswith(f"{run_id}-"))
        return sorted(found, key=lambda e: int(e["name"].rsplit("-", 1)[-1]))

    def notifications(self) -> list[dict[str, Any]]:
        """Every SNS notification published so far ({"Subject", "Message", ...}), oldest first."""
        sqs = self.client("sqs")
        for _ in range(100):
            messages = sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                break
            for message in messages:
                self._sns_inbox.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        return list(self._sns_inbox)

    def run_janitor(self) -> dict[str, Any]:
        """Invoke the janitor function as its schedule does; its summary."""
        response = self.client("lambda").invoke(
            FunctionName=self.function_arns[JANITOR],
            Payload=json.dumps(
                {
                    "version": "0",
                    "detail-type": "Scheduled Event",
                    "source": "aws.events",
                    "account": ACCOUNT_ID,
                    "region": self.region,
                    "resources": [f"arn:aws:events:{self.region}:{ACCOUNT_ID}:rule/{self.name}-janitor"],
                    "detail": {},
                }
            ),
        )
        summary: dict[str, Any] = json.loads(response["Payload"].read())
        if response.get("FunctionError"):
            raise RuntimeError(f"the janitor failed: {summary.get('errorMessage')}")
        return summary

    def endpoint_activity(self) -> dict[str, int]:
        """Requests each live endpoint's model server has answered so far (for progress views)."""
        return self.runtime.activity() if self.runtime is not None else {}

    def slack_messages(self) -> list[Any]:
        """What the local Slack stand-in received (empty without one)."""
        return self.slack.received() if self.slack is not None else []

    def calls(self) -> dict[str, set[str]]:
        """The IAM actions each function's handler has called so far, by CDK function name
        ('PrepareFunction': {'s3:GetObject', ...}); calls outside every handler under
        `local.calls.OUTSIDE`."""
        return self._calls.calls()

    def leftovers(self) -> dict[str, list[str]]:
        """Endpoints, endpoint configs and models that still exist, and model servers still up."""
        sagemaker = self.client("sagemaker")
        return {
            "endpoints": [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]],
            "endpoint_configs": [
                c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]
            ],
            "models": [m["ModelName"] for m in sagemaker.list_models()["Models"]],
            "model_servers": sorted(self.runtime.servers) if self.runtime else [],
        }
