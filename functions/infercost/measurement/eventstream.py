"""Reading InvokeEndpointWithResponseStream's answer as it arrives: AWS event-stream framing
(botocore's parser), with the arrival time of every payload part.

A response is a sequence of messages. `PayloadPart` events carry the model's bytes; an
`exception` message (`ModelStreamError`, `InternalStreamFailure`) ends the stream with an error;
bytes left over when the HTTP response ends are a message cut off mid-way.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field


@dataclass
class StreamedResponse:
    """One streamed response: time to first payload byte, every part's arrival, the whole body."""

    first_byte_ms: float
    part_ms: list[float] = field(default_factory=list)
    body: bytes = b""


class EventStreamReader:
    """Fed the HTTP body of one response as it arrives; knows when and what went wrong."""

    __slots__ = ("_buffer", "_consumed", "_fed", "error", "parts", "t0", "times")

    def __init__(self, t0: float) -> None:
        from botocore.eventstream import EventStreamBuffer

        self._buffer = EventStreamBuffer()
        self._fed = 0
        self._consumed = 0
        self.t0 = t0
        self.parts: list[bytes] = []
        self.times: list[float] = []
        self.error: str | None = None

    def feed(self, data: bytes) -> None:
        from botocore.eventstream import ParserError

        if self.error is not None:
            return
        now = time.perf_counter()
        self._buffer.add_data(data)
        self._fed += len(data)
        try:
            for message in self._buffer:
                self._consumed += message.prelude.total_length
                self._take(message.headers, message.payload, now)
        except ParserError as error:
            self.error = f"malformed event stream: {type(error).__name__}"

    def _take(self, headers: dict[str, object], payload: bytes, now: float) -> None:
        kind = headers.get(":message-type")
        if kind == "event":
            if headers.get(":event-type") == "PayloadPart" and payload:
                self.parts.append(payload)
                self.times.append((now - self.t0) * 1000.0)
            return
        name = headers.get(":exception-type") or headers.get(":error-code") or "stream error"
        self.error = f"{name}: {_message_of(payload)}"

    def finish(self) -> StreamedResponse | str:
        """The response, or why the stream failed (an exception event, a message cut off)."""
        if self.error is None and self._fed != self._consumed:
            self.error = (
                f"stream cut off mid-event ({self._fed - self._consumed} bytes of an unfinished message)"
            )
        if self.error is not None:
            return self.error
        if not self.parts:
            return "the stream ended without a payload part"
        return StreamedResponse(self.times[0], self.times, b"".join(self.parts))


def _message_of(payload: bytes) -> str:
    try:
        document = json.loads(payload)
    except ValueError:
        return payload[:200].decode(errors="replace")
    if isinstance(document, dict):
        return str(document.get("Message") or document.get("message") or document)[:200]
    return str(document)[:200]
