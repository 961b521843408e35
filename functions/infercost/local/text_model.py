"""The local model server's streaming text mode: a small deterministic text generator behind a
declared LLM speed profile (docs/method.md §9). Nothing is downloaded: the "model" draws words
from a fixed vocabulary, seeded by the prompt, so the same prompt always gives the same answer.

A generation waits its time to first token, then emits its tokens one decode step apart, in
chunks that sometimes carry several tokens. The decode step grows with the generations running
at once (`batch_penalty`), and at most `slots` run at once (the rest queue): past its
saturation an endpoint's token goodput stops growing, as a real one's does. It answers
- `POST /invocations`: chunked HTTP, plain UTF-8 text (a container's own streaming answer);
- `POST /endpoints/{name}/invocations-response-stream`: chunked AWS event stream of PayloadPart
  events (InvokeEndpointWithResponseStream);
- `POST /endpoints/{name}/invocations`: the whole text as `{"generated_text": ...}`;
and records ModelLatency (request parsed → last token) like every local endpoint.
"""

from __future__ import annotations

import asyncio
import binascii
import io
import json
import random
import re
import struct
import tarfile
import time
import zlib
from collections import deque
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from infercost.domain.models import Candidate

# The model server and its connections are typed Any here: model_server imports this module.
ModelServer = Any
_Connection = Any

# model.json's `kind` in a model artifact that the local container serves as a text generator.
TEXT_MODEL_KIND = "text-generator"
VOCABULARY = tuple(
    [
        "the",
        "a",
        "model",
        "serves",
        "tokens",
        "fast",
        "and",
        "slow",
        "each",
        "endpoint",
        "answers",
        "streams",
        "of",
        "words",
        "with",
        "time",
        "to",
        "first",
        "token",
        "then",
        "one",
        "after",
        "another",
        "cost",
        "per",
        "million",
        "measured",
        "latency",
        "budget",
        "cloud",
        "instance",
        "graphics",
        "card",
        "memory",
        "batch",
        "queue",
        "request",
        "prompt",
        "answer",
        "context",
        "window",
    ]
)
DEFAULT_MAX_NEW_TOKENS = 64


class TextProfile(BaseModel):
    """How a simulated LLM endpoint generates (declared, not measured)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "text"
    ttft_ms: float = Field(default=50.0, ge=0, description="time to the first token, prefill")
    per_token_ms: float = Field(default=10.0, ge=0, description="one decode step with one generation")
    slots: int = Field(default=8, ge=1, description="generations decoded at once; the rest queue")
    batch_penalty: float = Field(default=0.15, ge=0, description="decode-step growth per extra generation")
    chunk_tokens: int = Field(default=3, ge=1, description="most tokens one chunk carries")
    cut_after_tokens: int = Field(default=0, ge=0, description="break every stream after N tokens (0: never)")
    simulated: bool = True


# Family -> (time to first token ms, decode step ms, generations at once) on its .xlarge size.
_FAMILIES: dict[str, tuple[float, float, int]] = {
    "g4dn": (140.0, 28.0, 4),
    "g5": (70.0, 14.0, 8),
    "g6": (80.0, 16.0, 8),
    "g6e": (45.0, 9.0, 16),
    "inf2": (90.0, 12.0, 8),
    "p4d": (25.0, 5.0, 32),
    "p5": (15.0, 3.0, 64),
}
_CPU = (400.0, 80.0, 2)


def text_profile_for(candidate: Candidate) -> TextProfile:
    """The declared simulated generation speed of `candidate` (CPUs are slow; bigger sizes batch more)."""
    match = re.match(r"^ml\.([a-z0-9-]+)\.([a-z0-9]+)$", str(candidate.instance_type))
    family, size = (match.group(1), match.group(2)) if match else ("", "xlarge")
    ttft, step, slots = _FAMILIES.get(family, _CPU)
    multiple = {"2xlarge": 2, "4xlarge": 2, "8xlarge": 4, "12xlarge": 4, "24xlarge": 8, "48xlarge": 8}.get(
        size, 1
    )
    return TextProfile(
        name=f"text-{candidate.slug}",
        ttft_ms=ttft,
        per_token_ms=step,
        slots=slots * multiple * candidate.instance_count,
    )


def generate(prompt: str, max_new_tokens: int) -> list[str]:
    """The answer's tokens: words drawn from the vocabulary, seeded by the prompt (each after the
    first with its leading space, as tokenizers emit them)."""
    rng = random.Random(zlib.crc32(prompt.encode()))
    words = [rng.choice(VOCABULARY) for _ in range(max_new_tokens)]
    return [word if index == 0 else f" {word}" for index, word in enumerate(words)]


def chunked(tokens: list[str], most: int, seed: int) -> list[str]:
    """Tokens grouped into chunks of 1..`most` tokens (deterministic for a seed)."""
    rng = random.Random(seed)
    chunks, index = [], 0
    while index < len(tokens):
        take = rng.randint(1, most)
        chunks.append("".join(tokens[index : index + take]))
        index += take
    return chunks


def event_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message (string headers, CRC32 of prelude and message)."""
    encoded = b"".join(
        bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value)) + value.encode()
        for name, value in headers.items()
    )
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    message = prelude + struct.pack(">I", binascii.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", binascii.crc32(message))


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def artifact_document(archive: bytes) -> dict[str, Any]:
    """The model.json a model.tar.gz carries ({} when it has none)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            member = tar.extractfile("model.json")
            document = json.loads(member.read()) if member is not None else {}
    except (tarfile.TarError, KeyError, ValueError, OSError):
        return {}
    return document if isinstance(document, dict) else {}


class _Generation:
    __slots__ = ("arrived", "chunks", "connection", "mode", "parsed", "sent", "tokens")

    def __init__(self, connection: _Connection, mode: str, chunks: list[str], arrived: float) -> None:
        self.connection = connection
        self.mode = mode
        self.chunks = chunks
        self.arrived = arrived
        self.parsed = time.perf_counter()
        self.sent = 0
        self.tokens = 0


class TextModel:
    """The text mode of one ModelServer (runs on its event loop)."""

    def __init__(self, profile: TextProfile) -> None:
        self.profile = profile
        self.active = 0
        self.queue: deque[_Generation] = deque()

    def handle(
        self, server: ModelServer, connection: _Connection, head: bytes, body: bytes, arrived: float
    ) -> None:
        """Route one POST: stream it (chunked text or event stream), or answer it whole."""
        path = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b""
        if path.endswith(b"/invocations-response-stream"):
            mode = "events"
        elif path == b"/invocations":
            mode = "text"
        elif path.startswith(b"/endpoints/") and path.endswith(b"/invocations"):
            mode = "whole"
        else:
            connection.write(_plain(404, b'{"error":"not found"}'))
            return
        try:
            request = json.loads(body)
            prompt = request["inputs"] if isinstance(request, dict) else None
            if not isinstance(prompt, str) or not prompt:
                raise ValueError("inputs")
            parameters = request.get("parameters") or {}
            max_new = int(parameters.get("max_new_tokens", DEFAULT_MAX_NEW_TOKENS))
            if max_new <= 0:
                raise ValueError("max_new_tokens")
        except (ValueError, TypeError, KeyError, AttributeError):
            connection.write(
                _plain(
                    400,
                    b'{"error":"expected {\\"inputs\\": \\"<prompt>\\", \\"parameters\\": {\\"max_new_tokens\\": N}}"}',
                )
            )
            return
        tokens = generate(prompt, max_new)
        generation = _Generation(
            connection, mode, chunked(tokens, self.profile.chunk_tokens, zlib.crc32(body)), arrived
        )
        generation.tokens = len(tokens)
        self.queue.append(generation)
        self._admit(server)

    def _admit(self, server: ModelServer) -> None:
        assert server._loop is not None
        while self.queue and self.active < self.profile.slots:
            generation = self.queue.popleft()
            self.active += 1
            if generation.mode != "whole":
                content_type = (
                    b"application/vnd.amazon.eventstream"
                    if generation.mode == "events"
                    else b"text/plain; charset=utf-8"
                )
                generation.connection.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: "
                    + content_type
                    + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
                )
            server._loop.call_later(self.profile.ttft_ms / 1000, self._step, server, generation)

    def _step_s(self, chunk_tokens: int) -> float:
        profile = self.profile
        return chunk_tokens * profile.per_token_ms * (1 + profile.batch_penalty * (self.active - 1)) / 1000

    def _step(self, server: ModelServer, generation: _Generation) -> None:
        connection = generation.connection
        if connection.transport is None:  # the client went away: free the slot
            self._done(server, generation, status=499)
            return
        if generation.mode == "whole":
            self._whole(server, generation)
            return
        text = generation.chunks[generation.sent]
        generation.sent += 1
        cut = self.profile.cut_after_tokens
        if cut and sum(len(c.split()) for c in generation.chunks[: generation.sent]) >= cut:
            connection.write(_chunk(self._frame(generation, text)))
            connection.transport.abort()
            self._done(server, generation, status=500)
            return
        connection.write(_chunk(self._frame(generation, text)))
        if generation.sent >= len(generation.chunks):
            connection.write(b"0\r\n\r\n")
            self._done(server, generation, status=200)
            return
        _loop(server).call_later(
            self._step_s(len(generation.chunks[generation.sent].split())), self._step, server, generation
        )

    def _whole(self, server: ModelServer, generation: _Generation) -> None:
        """A non-streaming call: the whole generation's time, then one answer."""
        remaining = sum(len(c.split()) for c in generation.chunks[1:])
        delay = self._step_s(remaining)

        def answer() -> None:
            body = json.dumps({"generated_text": "".join(generation.chunks)}).encode()
            generation.connection.write(_plain(200, body))
            self._done(server, generation, status=200)

        _loop(server).call_later(delay, answer)

    @staticmethod
    def _frame(generation: _Generation, text: str) -> bytes:
        data = text.encode()
        if generation.mode == "events":
            return event_message(
                {
                    ":message-type": "event",
                    ":event-type": "PayloadPart",
                    ":content-type": "application/octet-stream",
                },
                data,
            )
        return data

    def _done(self, server: ModelServer, generation: _Generation, *, status: int) -> None:
        self.active -= 1
        done = time.perf_counter()
        model_us = max(1, round((done - generation.parsed) * 1e6))
        overhead_us = max(1, round((generation.parsed - generation.arrived) * 1e6))
        server.invocations += 1
        server.status_counts[status] += 1
        if status < 400:
            server.sketch.add(model_us / 1000)
        if server.metrics is not None:
            server.metrics.record(int(time.time()), model_us, overhead_us, status)
        self._admit(server)


def _loop(server: ModelServer) -> asyncio.AbstractEventLoop:
    assert server._loop is not None
    return server._loop


def _plain(status: int, body: bytes) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def text_model_for(archive: bytes | None, candidate: Candidate) -> TextModel | None:
    """A text model when the artifact declares one, with the candidate's declared speed; an artifact
    may also declare `cut_after_tokens` (a model whose streams break, for the failure path)."""
    document = artifact_document(archive) if archive is not None else {}
    if document.get("kind") != TEXT_MODEL_KIND:
        return None
    profile = text_profile_for(candidate)
    cut = document.get("cut_after_tokens")
    if isinstance(cut, int) and cut > 0:
        profile = profile.model_copy(update={"cut_after_tokens": cut})
    return TextModel(profile)
