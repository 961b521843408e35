"""moto extension: GetBucketNotificationConfiguration shows the bucket's EventBridge setting.

moto 5.2.5 stores `EventBridgeConfiguration` (and sends the bucket's events to EventBridge) but
leaves it out of GetBucketNotificationConfiguration's answer, where S3 returns an empty
`<EventBridgeConfiguration/>` element; `infercost doctor` reads it there.
"""

from __future__ import annotations

from typing import Any

_ELEMENT = "<EventBridgeConfiguration/>"
_installed = False


def with_event_bridge(body: str) -> str:
    """The response body with an empty EventBridgeConfiguration element, as S3 answers."""
    if "EventBridgeConfiguration" in body:
        return body
    if "</NotificationConfiguration>" in body:
        return body.replace("</NotificationConfiguration>", f"{_ELEMENT}</NotificationConfiguration>")
    start = body.find("<NotificationConfiguration")
    end = body.find("/>", start)
    if start < 0 or end < 0:
        return body
    return f"{body[:end]}>{_ELEMENT}</NotificationConfiguration>{body[end + 2 :]}"


def install() -> None:
    """Patch moto's S3 responses (idempotent)."""
    global _installed
    from moto.s3.responses import S3Response

    if _installed:
        return
    original = S3Response.get_bucket_notification

    def get_bucket_notification(self: Any) -> Any:
        response = original(self)
        configuration = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if configuration is None or configuration.event_bridge is None or not isinstance(response, tuple):
            return response
        status, headers, body = response
        text = body.decode("utf-8") if isinstance(body, bytes) else str(body)
        return status, headers, with_event_bridge(text)

    S3Response.get_bucket_notification = get_bucket_notification  # type: ignore[method-assign]
    _installed = True
