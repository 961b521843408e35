"""Reading AWS event-stream framing as it arrives, byte by byte if need be."""

from __future__ import annotations

import time

from infercost.measurement.eventstream import EventStreamReader, StreamedResponse
from tests.sagemaker_runtime import event_message, payload_part


def test_parts_split_anywhere_are_reassembled_in_order() -> None:
    data = payload_part(b"hello ") + payload_part(b"world")
    reader = EventStreamReader(time.perf_counter())
    for index in range(len(data)):  # one byte at a time: every split point
        reader.feed(data[index : index + 1])
    done = reader.finish()
    assert isinstance(done, StreamedResponse)
    assert done.body == b"hello world" and len(done.part_ms) == 2
    assert done.first_byte_ms == done.part_ms[0] <= done.part_ms[1]


def test_a_corrupted_message_is_an_error_not_a_crash() -> None:
    message = bytearray(payload_part(b"hello"))
    message[-6] ^= 0xFF  # a payload byte: the message CRC no longer matches
    reader = EventStreamReader(time.perf_counter())
    reader.feed(bytes(message))
    assert reader.finish() == "malformed event stream: ChecksumMismatch"


def test_an_exception_event_names_its_type_and_message() -> None:
    reader = EventStreamReader(time.perf_counter())
    reader.feed(payload_part(b"x"))
    reader.feed(
        event_message(
            {":message-type": "exception", ":exception-type": "InternalStreamFailure"},
            b'{"message": "stream processing failed"}',
        )
    )
    assert reader.finish() == "InternalStreamFailure: stream processing failed"


def test_a_stream_without_any_part_is_an_error() -> None:
    reader = EventStreamReader(time.perf_counter())
    assert reader.finish() == "the stream ended without a payload part"
