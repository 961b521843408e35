"""Handler output, as in Lambda: logs to CloudWatch Logs, embedded metrics to CloudWatch.

A Lambda function's stdout goes to its log group, and CloudWatch turns Embedded Metric Format
lines (what Powertools Metrics prints) into metrics. Locally, handlers run in-process on
several threads, so stdout is replaced by a proxy that routes each thread's writes to the
invocation that thread is running; what is not captured passes through unchanged.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, TextIO


class ThreadOutput(io.TextIOBase):
    """A stdout that sends writes to the current thread's buffer while one is capturing."""

    def __init__(self, original: TextIO) -> None:
        super().__init__()
        self.original = original
        self._local = threading.local()

    def write(self, text: str) -> int:
        buffer: io.StringIO | None = getattr(self._local, "buffer", None)
        if buffer is not None:
            return buffer.write(text)
        return self.original.write(text)

    def flush(self) -> None:
        if getattr(self._local, "buffer", None) is None:
            self.original.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    @contextlib.contextmanager
    def capture(self) -> Iterator[io.StringIO]:
        previous = getattr(self._local, "buffer", None)
        buffer = io.StringIO()
        self._local.buffer = buffer
        try:
            yield buffer
        finally:
            self._local.buffer = previous


_lock = threading.Lock()
# One proxy for the process: a handler's Logger keeps the stream it found at import, so the
# proxy must outlive every stack that installs it.
_proxy: ThreadOutput | None = None
_users = 0


def install() -> ThreadOutput:
    """Put the proxy in front of sys.stdout (counted: each install needs an uninstall).

    Called again while installed, it puts the proxy back if something (a test runner's output
    capture) replaced sys.stdout in the meantime, forwarding to that replacement.
    """
    global _proxy, _users
    with _lock:
        if _proxy is None:
            _proxy = ThreadOutput(sys.stdout)
        if sys.stdout is not _proxy:
            _proxy.original = sys.stdout
            sys.stdout = _proxy
        _users += 1
        return _proxy


def uninstall() -> None:
    """Undo one install; the last one puts the original stdout back."""
    global _users
    with _lock:
        _users = max(_users - 1, 0)
        if _users == 0 and _proxy is not None and sys.stdout is _proxy:
            sys.stdout = _proxy.original


def emf_metric_data(document: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    """(namespace, PutMetricData items) of one Embedded Metric Format document, else None."""
    directives = document.get("_aws", {}).get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        return None
    timestamp = document["_aws"].get("Timestamp")
    namespace = ""
    items: list[dict[str, Any]] = []
    for directive in directives:
        namespace = str(directive.get("Namespace", namespace))
        dimension_sets = directive.get("Dimensions") or [[]]
        for metric in directive.get("Metrics", []):
            name = metric["Name"]
            values = document.get(name)
            values = values if isinstance(values, list) else [values]
            for dimension_names in dimension_sets:
                item: dict[str, Any] = {
                    "MetricName": name,
                    "Dimensions": [{"Name": d, "Value": str(document[d])} for d in dimension_names],
                    "Values": [float(v) for v in values],
                    "Unit": metric.get("Unit", "None"),
                }
                if timestamp:
                    item["Timestamp"] = timestamp / 1000
                items.append(item)
    return namespace, items


def publish(logs: Any, cloudwatch: Any, function_name: str, request_id: str, text: str) -> None:
    """Send captured output where Lambda would: metrics to CloudWatch, the rest to its log group."""
    group = f"/aws/lambda/{function_name}"
    stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{request_id}"
    events = []
    now_ms = int(time.time() * 1000)
    for line in text.splitlines():
        if not line.strip():
            continue
        document = None
        if line.startswith("{") and '"_aws"' in line:
            with contextlib.suppress(json.JSONDecodeError):
                document = json.loads(line)
        metric = emf_metric_data(document) if isinstance(document, dict) else None
        if metric is not None:
            namespace, items = metric
            if items:
                cloudwatch.put_metric_data(Namespace=namespace, MetricData=items)
        events.append({"timestamp": now_ms, "message": line})
    if not events:
        return
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
