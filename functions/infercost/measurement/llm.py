"""Streaming LLM load: prompts sent in turn, each response read as it streams, its text counted
in tokens with the workload's tokenizer (docs/method.md §9).

The same engine as every other load: `LlmHttpTransport` reads a container's chunked HTTP answer
(`POST /invocations`, the local model servers' text mode), `LlmSageMakerTransport` reads
InvokeEndpointWithResponseStream's event stream. Each completed response becomes a
`RequestTokens` in its level's `TokenAccumulator`; a response without a token is a `stream` error.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from infercost.domain.errors import InputError
from infercost.domain.llm import RequestTokens, TokenAccumulator, request_tokens
from infercost.domain.results import LatencyStats, LlmStats
from infercost.domain.tokens import Tokenizer
from infercost.domain.workload import LlmWorkload, TokenSlo
from infercost.measurement.eventstream import EventStreamReader, StreamedResponse
from infercost.measurement.http import HttpTransport
from infercost.measurement.results import LevelResult, LoadTestResult, RawLevel, slo_breach
from infercost.measurement.sagemaker import RESIGN_EVERY_S, SageMakerTransport
from infercost.measurement.targets import endpoint_url_of

_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Prompts:
    """What an LLM transport sends and how it counts: request bodies, their input tokens, the
    tokenizer, and the token SLOs that decide which requests are goodput."""

    bodies: list[bytes]
    input_tokens: list[int]
    tokenizer: Tokenizer
    slos: list[TokenSlo] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        workload: LlmWorkload,
        prompts: Sequence[str],
        tokenizer: Tokenizer,
        slos: Sequence[TokenSlo] = (),
    ) -> Prompts:
        if not prompts:
            raise InputError("the prompt list is empty: give at least one prompt", field="workload.prompts")
        return cls(
            bodies=[workload.request_body(prompt) for prompt in prompts],
            input_tokens=[tokenizer.count(prompt) for prompt in prompts],
            tokenizer=tokenizer,
            slos=list(slos or workload.slo),
        )


@dataclass
class TokenResponse(StreamedResponse):
    """A streamed response with its token metrics."""

    tokens: RequestTokens | None = None


def part_texts(parts: Sequence[bytes]) -> list[str]:
    """The text each part carried: UTF-8 text as it streams (a character split across parts
    belongs to the part that completes it), or, for JSON-lines streams (TGI, LMI: `{"token":
    {"text": ...}}`, optionally `data:`-prefixed), the tokens' text of the objects each completed."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    texts = [decoder.decode(part) for part in parts]
    if not "".join(texts).lstrip().startswith(("{", "data:")):
        return texts
    out: list[str] = []
    buffer = ""
    for text in texts:
        buffer += text
        pieces: list[str] = []
        while True:
            buffer = buffer.lstrip()
            if buffer.startswith("data:"):
                buffer = buffer[5:].lstrip()
            if not buffer:
                break
            try:
                item, end = _DECODER.raw_decode(buffer)
            except ValueError:
                break  # an object not complete yet: the next part finishes it
            buffer = buffer[end:]
            pieces.append(_token_text(item))
        out.append("".join(pieces))
    return out


def _token_text(item: Any) -> str:
    if not isinstance(item, dict):
        return item if isinstance(item, str) else ""
    token = item.get("token")
    if isinstance(token, dict):
        return "" if token.get("special") else str(token.get("text") or "")
    if isinstance(token, str):
        return token
    for key in ("text", "outputs", "generated_text"):
        value = item.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return "".join(v for v in value if isinstance(v, str))
    return ""


def _finish(
    prompts: Prompts, prompt: int, times: list[float], parts: list[bytes], end_ms: float
) -> TokenResponse | str:
    if not parts:
        return "the stream ended without a payload part"
    tokens = request_tokens(
        times,
        part_texts(parts),
        end_ms,
        prompts.tokenizer,
        input_tokens=prompts.input_tokens[prompt],
        slos=prompts.slos,
    )
    if isinstance(tokens, str):
        return tokens
    return TokenResponse(times[0], times, b"".join(parts), tokens=tokens)


class ChunkedTextReader:
    """A container's chunked HTTP answer, each piece of body timed as it arrives."""

    __slots__ = ("parts", "prompt", "prompts", "t0", "times")

    def __init__(self, t0: float, prompt: int, prompts: Prompts) -> None:
        self.t0 = t0
        self.prompt = prompt
        self.prompts = prompts
        self.parts: list[bytes] = []
        self.times: list[float] = []

    def feed(self, data: bytes) -> None:
        self.times.append((time.perf_counter() - self.t0) * 1000.0)
        self.parts.append(data)

    def finish(self) -> TokenResponse | str:
        end_ms = (time.perf_counter() - self.t0) * 1000.0
        return _finish(self.prompts, self.prompt, self.times, self.parts, end_ms)


class TokenEventStreamReader(EventStreamReader):
    """InvokeEndpointWithResponseStream's event stream, its PayloadParts counted in tokens."""

    __slots__ = ("prompt", "prompts")

    def __init__(self, t0: float, prompt: int, prompts: Prompts) -> None:
        super().__init__(t0)
        self.prompt = prompt
        self.prompts = prompts

    def finish(self) -> TokenResponse | str:
        end_ms = (time.perf_counter() - self.t0) * 1000.0
        streamed = super().finish()
        if isinstance(streamed, str):
            return streamed
        return _finish(self.prompts, self.prompt, self.times, self.parts, end_ms)


class LlmHttpTransport(HttpTransport):
    """`POST <url>/invocations` with each prompt in turn, reading the chunked text as it streams."""

    streaming = True

    def __init__(self, url: str, prompts: Prompts, *, timeout_s: float = 60.0) -> None:
        super().__init__(url, "application/json", timeout_s=timeout_s)
        self.prompts = prompts
        self.description = f"{self.description} (streamed text)"

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("an LLM transport runs in one process (its tokenizer does not move)")

    def _build_request(self, payload: bytes) -> bytes:
        self.requests = [super(LlmHttpTransport, self)._build_request(body) for body in self.prompts.bodies]
        return self.requests[0]

    def new_reader(self, t0: float, prompt: int) -> ChunkedTextReader:
        return ChunkedTextReader(t0, prompt, self.prompts)

    def new_level(self, concurrency: int) -> RawLevel:
        return RawLevel(concurrency, tokens=TokenAccumulator(self.prompts.tokenizer.name, self.prompts.slos))


class LlmSageMakerTransport(SageMakerTransport):
    """InvokeEndpointWithResponseStream with each prompt in turn, each request signed for its body."""

    def __init__(
        self,
        endpoint_name: str,
        prompts: Prompts,
        *,
        timeout_s: float = 60.0,
        endpoint_url: str | None = None,
    ) -> None:
        super().__init__(
            endpoint_name, "application/json", timeout_s=timeout_s, stream=True, endpoint_url=endpoint_url
        )
        self.prompts = prompts
        self._hashes = [hashlib.sha256(body).hexdigest() for body in prompts.bodies]

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("an LLM transport runs in one process (its tokenizer does not move)")

    def _sign_all(self, now: float) -> list[bytes]:
        signed = []
        for body, digest in zip(self.prompts.bodies, self._hashes, strict=True):
            self._payload, self._payload_sha256 = body, digest
            signed.append(self._signed(now))
        return signed

    def _build_request(self, payload: bytes) -> bytes:
        for body in self.prompts.bodies:
            super()._build_request(body)  # the size check of every body
        self.requests = self._sign_all(time.time())
        return self.requests[0]

    def refresh(self) -> None:
        now = time.time()
        if now - self._signed_at >= RESIGN_EVERY_S and self.requests:
            try:
                self.requests = self._sign_all(now)
            except Exception:  # a failed credential refresh: the old signatures hold for 5 minutes
                self._signed_at = now

    def new_reader(self, t0: float, prompt: int) -> TokenEventStreamReader:
        return TokenEventStreamReader(t0, prompt, self.prompts)

    def new_level(self, concurrency: int) -> RawLevel:
        return RawLevel(concurrency, tokens=TokenAccumulator(self.prompts.tokenizer.name, self.prompts.slos))


def llm_endpoint_transport(
    endpoint_name: str, prompts: Prompts, *, timeout_s: float = 60.0
) -> LlmSageMakerTransport:
    """InvokeEndpointWithResponseStream at the runtime, or at a local stack's model server."""
    return LlmSageMakerTransport(
        endpoint_name, prompts, timeout_s=timeout_s, endpoint_url=endpoint_url_of(endpoint_name)
    )


def best_level(result: LoadTestResult, *, max_error_rate: float) -> LevelResult | None:
    """The level with the most output-token goodput among those that meet every SLO."""
    passing = [
        level
        for level in result.levels
        if level.llm is not None
        and level.error_rate <= max_error_rate
        and (
            slo_breach(level, result.slo)
            if result.slo is not None
            else level.llm.breach(level.latency_ms, level.concurrency)
        )
        is None
    ]
    return max(passing, key=lambda level: level.llm.output_tokens_per_s if level.llm else 0.0, default=None)


def llm_stats(result: LoadTestResult, *, max_error_rate: float) -> LlmStats | None:
    """The candidate's token figures: those of its best level, else of the measured run with no
    goodput (nothing met the SLOs, so no throughput to price)."""
    best = best_level(result, max_error_rate=max_error_rate)
    level = best or result.measured
    tokens = level.llm
    if tokens is None or tokens.ttft_ms is None:
        return None
    return LlmStats(
        ttft_ms=tokens.ttft_ms,
        # One-token answers have no gap between tokens.
        itl_ms=tokens.itl_ms or LatencyStats(avg=0.0),
        output_tokens_per_s=tokens.output_tokens_per_s if best else 0.0,
        input_tokens_per_s=tokens.input_tokens_per_s if best else 0.0,
        input_tokens=sum(x.llm.input_tokens for x in result.levels if x.llm),
        output_tokens=sum(x.llm.output_tokens for x in result.levels if x.llm),
        requests=sum(x.llm.requests for x in result.levels if x.llm),
        concurrency=level.concurrency if best else None,
        goodput_rps=tokens.goodput_rps if best else 0.0,
        tokenizer=tokens.tokenizer,
    )
