"""The state the local extensions share while an embedded stack runs.

moto's backends are process-wide, so the extensions are installed once and consult the active
`LocalRuntime`: with none active, every patched method behaves exactly as moto's own.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infercost.data.clients import iam_action
from infercost.domain.models import Candidate
from infercost.local.calls import CallRecorder
from infercost.local.faults import Faults

ClientFactory = Callable[[str], Any]
# Model servers publish their CloudWatch metrics this often, so CollectMetrics finds them at once.
METRICS_FLUSH_SECONDS = 0.25


@dataclass
class LocalRuntime:
    """Faults, quotas, and the model servers standing in for SageMaker endpoints."""

    client: ClientFactory
    region: str
    account_id: str = "123456789012"
    faults: Faults = field(default_factory=Faults)
    # Applied 'ml.x.y for endpoint usage' quotas that ListServiceQuotas answers with.
    quotas: dict[str, int] = field(default_factory=dict)
    # DescribeEndpoint calls that still see 'Creating', so the workflow's poll loop runs.
    polls_until_ready: int = 1
    # The AWS calls each function's handler makes (local/calls.py).
    calls: CallRecorder = field(default_factory=CallRecorder)
    servers: dict[str, Any] = field(default_factory=dict)
    failing: dict[str, str] = field(default_factory=dict)
    polls: Counter[str] = field(default_factory=Counter)
    endpoints_started: int = 0
    # Requests answered by servers already stopped: an endpoint is deleted before its metrics are
    # read, and the progress view still counts what it answered.
    answered_before_stop: dict[str, int] = field(default_factory=dict)
    # Endpoints held in Creating (fault 'stuck-creating') until `settle` is called.
    stuck: set[str] = field(default_factory=set)
    # A deleted endpoint shows 'Deleting' to this many DescribeEndpoint/ListEndpoints looks
    # before it is gone (0: at once, as moto does).
    deleting_looks: int = 0
    deleting: dict[str, int] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def start_server(self, endpoint_name: str, candidate: Candidate, artifact: bytes | None = None) -> str:
        """A local model server with the candidate's simulated speed, publishing its metrics; a
        text generator when its model artifact declares one (local/text_model.py)."""
        from infercost.local.model_server import ModelServer
        from infercost.local.profiles import NOOP, profile_for
        from infercost.local.text_model import text_model_for

        text = text_model_for(artifact, candidate)
        server = ModelServer(
            NOOP if text is not None else profile_for(candidate),
            text=text,
            endpoint_name=endpoint_name,
            cloudwatch=self.client("cloudwatch"),
            region=self.region,
            flush_interval_s=METRICS_FLUSH_SECONDS,
        )
        url = server.start()
        with self._lock:
            previous = self.servers.pop(endpoint_name, None)
            self.servers[endpoint_name] = server
            self.endpoints_started += 1
        if previous is not None:
            previous.stop()
        return url

    def stop_server(self, endpoint_name: str) -> None:
        with self._lock:
            server = self.servers.pop(endpoint_name, None)
            self.failing.pop(endpoint_name, None)
        if server is not None:
            server.stop()
            with self._lock:
                self.answered_before_stop[endpoint_name] = int(server.invocations)

    def url_for(self, endpoint_name: str) -> str | None:
        """A live endpoint's local URL."""
        with self._lock:
            server = self.servers.get(endpoint_name)
        return server.url if server is not None else None

    def resolve_endpoint(self, endpoint_name: str) -> str | None:
        """The loadgen resolver: `url_for`, noting the InvokeEndpoint calls its HTTP transport
        stands in for, which the function makes on AWS."""
        url = self.url_for(endpoint_name)
        if url is not None:
            self.calls.note(iam_action("sagemaker", "InvokeEndpoint"))
        return url

    def activity(self) -> dict[str, int]:
        """Requests answered so far by each endpoint's model server, live or stopped."""
        with self._lock:
            servers = dict(self.servers)
            answered = dict(self.answered_before_stop)
        return answered | {name: int(server.invocations) for name, server in servers.items()}

    def settle(self) -> list[str]:
        """Let every endpoint held in Creating settle (it ends Failed); their names."""
        with self._lock:
            settled = sorted(self.stuck)
            self.stuck.clear()
        return settled

    def note_poll(self, endpoint_name: str) -> int:
        with self._lock:
            self.polls[endpoint_name] += 1
            return self.polls[endpoint_name]

    def stop_all(self) -> list[str]:
        """Stop every server still running; the endpoint names (a leak if any)."""
        with self._lock:
            servers = dict(self.servers)
            self.servers.clear()
        for server in servers.values():
            server.stop()
        return sorted(servers)


_lock = threading.Lock()
_active: LocalRuntime | None = None


def activate(runtime: LocalRuntime) -> None:
    global _active
    with _lock:
        if _active is not None:
            raise RuntimeError("a local stack is already running in this process")
        _active = runtime


def deactivate(runtime: LocalRuntime) -> None:
    global _active
    with _lock:
        if _active is runtime:
            _active = None


def active() -> LocalRuntime | None:
    """The running local stack's runtime, or None (moto then behaves as unpatched)."""
    return _active
