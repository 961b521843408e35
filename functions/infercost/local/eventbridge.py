"""moto extension: S3 `Object Created` -> EventBridge rule -> Step Functions StartExecution.

moto 5.2.5 sends S3 events to EventBridge rules (when the bucket has EventBridge notifications
on) but delivers nothing to a Step Functions target, and its event differs from S3's in a few
fields (`eTag`, a numeric `time`). Two patches:

- the S3 notification builds the event exactly as S3 documents it
  (docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html), and sends it to the default
  event bus only, as S3 does;
- a rule whose pattern matches (moto's own matcher: prefix, suffix, `wildcard` ...) starts an
  execution of each Step Functions target, with the event (or the target's `Input` /
  `InputPath`) as input, under a fresh execution name, as EventBridge does.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any, cast

from infercost.local.runtime import active

_originals: dict[str, Any] = {}
_targets_lock = threading.Lock()


def object_created_event(
    account_id: str, region: str, bucket: Any, key: Any, reason: str = "PutObject"
) -> dict[str, Any]:
    """The EventBridge event S3 sends for a new object (version-id only in versioned buckets)."""
    obj: dict[str, Any] = {
        "key": key.name,
        "size": key.size,
        "etag": key.etag.replace('"', ""),
    }
    if bucket.is_versioned and key.version_id and key.version_id != "null":
        obj["version-id"] = key.version_id
    obj["sequencer"] = f"{int(datetime.now(UTC).timestamp() * 1e6):016X}"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket.name}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket.name},
            "object": obj,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": account_id,
            "source-ip-address": "127.0.0.1",
            "reason": reason,
        },
    }


def _send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
    if active() is None or "ObjectCreated" not in event_name:
        _originals["s3"](account_id, bucket, event_name, key)
        return
    from moto.events.models import events_backends

    reason = {"Put": "PutObject", "Post": "PostObject", "Copy": "CopyObject"}.get(
        event_name.rsplit(":", 1)[-1], "CompleteMultipartUpload"
    )
    event = object_created_event(account_id, bucket.region_name, bucket, key, reason)
    backend = events_backends[account_id][bucket.region_name]
    default_bus = backend.event_buses.get("default")
    if default_bus is None:
        return
    for rule in list(default_bus.rules.values()):
        if rule.state == "ENABLED":
            rule.send_to_targets(cast(Any, event), transform_input=False)


def _moto_internal(event: dict[str, Any]) -> dict[str, Any]:
    """moto's own targets expect the event time as epoch seconds, which they format themselves."""
    time = event.get("time")
    if not isinstance(time, str):
        return event
    moment = datetime.strptime(time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return {**event, "time": moment.timestamp()}


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    if target.get("Input"):
        return str(target["Input"])
    path = target.get("InputPath")
    if path:
        value: Any = event
        for part in str(path).removeprefix("$").strip(".").split("."):
            if part:
                value = value.get(part) if isinstance(value, dict) else None
        return json.dumps(value)
    return json.dumps(event)


def _start_execution(target: dict[str, Any], event: dict[str, Any]) -> None:
    runtime = active()
    if runtime is None:
        return
    runtime.client("stepfunctions").start_execution(
        stateMachineArn=target["Arn"], name=str(uuid.uuid4()), input=_target_input(target, event)
    )


def _send_to_targets(self: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
    states = [t for t in self.targets if ":states:" in t["Arn"] and ":stateMachine:" in t["Arn"]]
    if not states or active() is None:
        _originals["rule"](self, original_event, transform_input)
        return
    if not self.event_pattern.matches_event(original_event):
        return
    others = [t for t in self.targets if t not in states]
    if others:
        with _targets_lock:
            saved = self.targets
            self.targets = others
            try:
                _originals["rule"](self, _moto_internal(original_event), transform_input)
            finally:
                self.targets = saved
    for target in states:
        _start_execution(target, dict(original_event))


def install() -> None:
    """Patch moto's S3 -> EventBridge notification and rule delivery (idempotent)."""
    from moto.events.models import Rule
    from moto.s3 import notifications

    if "s3" not in _originals:
        _originals["s3"] = notifications._send_event_bridge_message
        notifications._send_event_bridge_message = _send_event_bridge_message
    if "rule" not in _originals:
        _originals["rule"] = Rule.send_to_targets
        Rule.send_to_targets = _send_to_targets  # type: ignore[method-assign,assignment]
