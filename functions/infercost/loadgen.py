"""Load generation: warm-up, the measured serial run, and the concurrency sweep (docs/method.md, section 2).

One `Transport` interface, two implementations: direct HTTP to a container URL (asyncio,
keep-alive connections, one callback per response: the hot path does little Python) and the
SageMaker runtime `InvokeEndpoint` (boto3 in threads, retries off). Latencies go into a mergeable
sketch (`infercost.domain.sketch`); errors are counted by kind and never dropped.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import os
import pickle
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from infercost.data import clients as aws
from infercost.domain.errors import InfercostError, InputError
from infercost.domain.models import (
    RESULTS_SCHEMA,
    Candidate,
    CandidateResult,
    LatencyStats,
    LoadPlan,
    ResultsFile,
    Slo,
)
from infercost.domain.sketch import RELATIVE_ACCURACY, LatencySketch

if TYPE_CHECKING:
    from multiprocessing.pool import Pool

ErrorKind = Literal["http_4xx", "http_5xx", "throttled", "timeout", "connection", "other"]
Phase = Literal["warmup", "measured", "sweep"]

# Serial phases give up when this many first requests all failed: the target is not answering.
FAIL_FAST_AFTER = 5
# How often the HTTP watchdog checks timeouts and deadlines and reports progress.
_TICK_S = 0.05
_MAX_ERROR_EXAMPLE = 200


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (the `local` extra): its I/O callbacks cost
    less Python per request, which is most of a load generator's work; asyncio's otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


class LoadTestError(InfercostError):
    """The target could not be load-tested at all (unreachable, every request failed)."""


# ----------------------------------------------------------------------------- results


class LevelResult(BaseModel):
    """What one concurrency level measured. `latency_ms` covers successful requests only."""

    model_config = ConfigDict(frozen=True)

    concurrency: int = Field(ge=1)
    requests: int = Field(ge=0, description="requests completed (ok + errors)")
    ok: int = Field(ge=0)
    errors_by_kind: dict[str, int] = Field(default_factory=dict)
    error_examples: dict[str, str] = Field(default_factory=dict, description="first message per kind")
    latency_ms: LatencyStats | None = Field(description="from successes only; None when none succeeded")
    rps: float = Field(ge=0, description="successful responses per second")
    duration_s: float = Field(ge=0)
    sketch: str = Field(description="serialized mergeable latency sketch (infercost.domain.sketch)")

    @property
    def errors(self) -> int:
        return sum(self.errors_by_kind.values())

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def latency_at(self, percentile: str) -> float | None:
        if self.latency_ms is None:
            return None
        value: float | None = getattr(self.latency_ms, percentile)
        return value

    def describe_errors(self) -> str:
        """'3 errors of 100 (http_5xx 2, timeout 1)' or '' when there were none."""
        if not self.errors:
            return ""
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(self.errors_by_kind.items()))
        return f"{self.errors} error{'s' if self.errors > 1 else ''} of {self.requests} ({kinds})"


class LoadTestResult(BaseModel):
    """A whole load test; small enough for Step Functions state (a few KB)."""

    model_config = ConfigDict(frozen=True)

    started_at: float = Field(description="epoch seconds: start of the measured serial run")
    ended_at: float = Field(description="epoch seconds: end of the measured serial run")
    measured: LevelResult
    sweep: list[LevelResult] = Field(default_factory=list)
    max_rps_at_slo: float | None = None
    slo: Slo | None = None
    partial: bool = False
    notes: list[str] = Field(default_factory=list)
    sketch_relative_accuracy: float = RELATIVE_ACCURACY

    @property
    def latency_ms(self) -> LatencyStats:
        """Latency of the measured serial run (always present: a run without successes raises)."""
        assert self.measured.latency_ms is not None
        return self.measured.latency_ms

    @property
    def levels(self) -> list[LevelResult]:
        return [self.measured, *self.sweep]


@dataclass(frozen=True)
class LoadProgress:
    """Progress of the running phase, reported a few times a second."""

    phase: Phase
    concurrency: int
    done: int
    total: int
    elapsed_s: float


# ----------------------------------------------------------------------------- raw level


@dataclass
class RawLevel:
    """What a transport returns for one level: raw latencies (ms) and errors by kind."""

    concurrency: int
    latencies_ms: array = field(default_factory=lambda: array("d"))
    errors: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    duration_s: float = 0.0
    abandoned: int = 0
    aborted: str | None = None

    def error(self, kind: str, message: str) -> None:
        self.errors[kind] += 1
        if kind not in self.examples:
            self.examples[kind] = message[:_MAX_ERROR_EXAMPLE]

    @property
    def completed(self) -> int:
        return len(self.latencies_ms) + sum(self.errors.values())

    def merged_with(self, other: RawLevel) -> RawLevel:
        """Two workers' shares of one level, run at the same time."""
        merged = RawLevel(self.concurrency + other.concurrency)
        merged.latencies_ms = self.latencies_ms + other.latencies_ms
        merged.errors = self.errors + other.errors
        merged.examples = {**other.examples, **self.examples}
        merged.duration_s = max(self.duration_s, other.duration_s)
        merged.abandoned = self.abandoned + other.abandoned
        merged.aborted = self.aborted or other.aborted
        return merged

    def to_level(self) -> LevelResult:
        sketch = LatencySketch(self.latencies_ms)
        ok = len(self.latencies_ms)
        return LevelResult(
            concurrency=self.concurrency,
            requests=self.completed,
            ok=ok,
            errors_by_kind=dict(self.errors),
            error_examples=dict(self.examples),
            latency_ms=sketch.stats(),
            rps=ok / self.duration_s if self.duration_s > 0 else 0.0,
            duration_s=self.duration_s,
            sketch=sketch.to_text(),
        )


def merge_level_results(results: Sequence[LevelResult]) -> LevelResult:
    """Merge one level run by parallel workers: counts add, sketches merge exactly, rates add."""
    if not results:
        raise ValueError("nothing to merge")
    sketch = LatencySketch()
    errors: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for result in results:
        sketch.merge(LatencySketch.from_text(result.sketch))
        errors.update(result.errors_by_kind)
        for kind, text in result.error_examples.items():
            examples.setdefault(kind, text)
    return LevelResult(
        concurrency=sum(r.concurrency for r in results),
        requests=sum(r.requests for r in results),
        ok=sum(r.ok for r in results),
        errors_by_kind=dict(errors),
        error_examples=examples,
        latency_ms=sketch.stats(),
        rps=sum(r.rps for r in results),
        duration_s=max(r.duration_s for r in results),
        sketch=sketch.to_text(),
    )


# ----------------------------------------------------------------------------- transports


ProgressTick = Callable[[int], None]


class Transport(Protocol):
    """Sends one payload `requests` times with `concurrency` in flight; reports raw results."""

    description: str

    def run_level(
        self,
        payload: bytes,
        requests: int,
        concurrency: int,
        *,
        deadline: float,
        max_errors: int | None = None,
        tick: ProgressTick | None = None,
    ) -> RawLevel:
        """Run one level; stop issuing at `deadline` (monotonic) or after `max_errors` errors."""
        ...

    def close(self) -> None:
        """Release connections, threads and clients."""
        ...


class _Level:
    """Book-keeping of one HTTP level inside the event loop."""

    __slots__ = (
        "aborted",
        "done",
        "errors",
        "in_flight",
        "issued",
        "max_errors",
        "raw",
        "record",
        "total",
    )

    def __init__(self, raw: RawLevel, total: int, max_errors: int | None, done: asyncio.Future[None]):
        self.raw = raw
        self.total = total
        self.issued = 0
        self.in_flight = 0
        self.errors = 0
        self.max_errors = max_errors
        self.done = done
        self.aborted = False
        self.record = raw.latencies_ms.append

    def take(self) -> bool:
        if self.issued >= self.total or self.aborted:
            return False
        self.issued += 1
        self.in_flight += 1
        return True

    def finish_one(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0 and (self.issued >= self.total or self.aborted) and not self.done.done():
            self.done.set_result(None)

    def fail(self, kind: str, message: str) -> None:
        self.raw.error(kind, message)
        self.errors += 1
        if self.max_errors is not None and self.errors > self.max_errors and not self.aborted:
            self.aborted = True
            self.raw.aborted = f"stopped after {self.errors} errors"
        self.finish_one()


class _HttpConnection(asyncio.Protocol):
    """One keep-alive connection; it sends the next request as soon as a response completes."""

    def __init__(self, owner: HttpTransport) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.level: _Level | None = None
        self.t0 = 0.0
        self.buffer = b""
        self.status = 0
        self.need = -1  # body bytes still expected; -1: reading the header
        self.chunked = False
        self.until_close = False
        self.close_after = False
        self.closed = False
        self.connect_error = ""

    # -- asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        level = self.level
        if level is None:
            return
        self.level = None
        if self.until_close and self.need == -2:
            self._complete(level)
            return
        level.fail("connection", f"connection closed by {self.owner.netloc}: {exc or 'EOF'}")
        self.owner._reconnect(level)

    def data_received(self, data: bytes) -> None:
        level = self.level
        if level is None:
            return
        buffer = self.buffer + data if self.buffer else data
        if self.need == -1:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            if not self._parse_head(buffer[:end]):
                self.buffer = b""
                self._abort(level, "other", f"not an HTTP response from {self.owner.netloc}")
                return
            buffer = buffer[end + 4 :]
        if self.chunked:
            self.buffer = buffer
            self._read_chunks(level)
            return
        if self.until_close:
            self.need = -2
            self.buffer = b""
            return
        if len(buffer) >= self.need:
            self.buffer = b""
            self._complete(level)
        else:
            self.need -= len(buffer)
            self.buffer = b""

    # -- helpers
    def _parse_head(self, head: bytes) -> bool:
        if not head.startswith(b"HTTP/1."):
            return False
        try:
            self.status = int(head[9:12])
        except ValueError:
            return False
        lower = head.lower()
        self.chunked = False
        self.until_close = False
        start = lower.find(b"\r\ncontent-length:")
        if start >= 0:
            start += 17
            stop = lower.find(b"\r\n", start)
            self.need = int(lower[start : stop if stop >= 0 else len(lower)])
        elif b"\r\ntransfer-encoding: chunked" in lower:
            self.chunked = True
            self.need = 0
        elif self.status in (204, 304) or 100 <= self.status < 200:
            self.need = 0
        else:
            self.until_close = True
            self.need = 0
        self.close_after = b"\r\nconnection: close" in lower or head.startswith(b"HTTP/1.0")
        return True

    def _read_chunks(self, level: _Level) -> None:
        buffer = self.buffer
        while True:
            line_end = buffer.find(b"\r\n")
            if line_end < 0:
                break
            size = int(buffer[:line_end].split(b";")[0], 16)
            if size == 0:
                # The last chunk, optional trailers, then an empty line.
                if buffer.find(b"\r\n\r\n", line_end) < 0:
                    break
                self.buffer = b""
                self._complete(level)
                return
            if len(buffer) < line_end + 2 + size + 2:
                break
            buffer = buffer[line_end + 2 + size + 2 :]
        self.buffer = buffer

    def _complete(self, level: _Level) -> None:
        elapsed_ms = (time.perf_counter() - self.t0) * 1000.0
        self.need = -1
        status = self.status
        if status < 400:
            level.record(elapsed_ms)
            level.finish_one()
        elif status == 429:
            level.fail("throttled", f"HTTP 429 from {self.owner.netloc}")
        elif status < 500:
            level.fail("http_4xx", f"HTTP {status} from {self.owner.netloc}")
        else:
            level.fail("http_5xx", f"HTTP {status} from {self.owner.netloc}")
        if self.close_after or self.until_close:
            self.level = None
            self._close()
            self.owner._reconnect(level)
        else:
            self.send(level)

    def send(self, level: _Level) -> None:
        """Send the next request of `level` if one is left; otherwise go idle."""
        if not level.take():
            self.level = None
            return
        self.level = level
        self.need = -1
        self.t0 = time.perf_counter()
        assert self.transport is not None
        self.transport.write(self.owner.request)

    def _abort(self, level: _Level, kind: str, message: str) -> None:
        self.level = None
        level.fail(kind, message)
        self._close()
        self.owner._reconnect(level)

    def timeout(self, level: _Level) -> None:
        self._abort(level, "timeout", f"no response within {self.owner.timeout_s:g} s")

    def abandon(self) -> None:
        level = self.level
        if level is not None:
            self.level = None
            level.raw.abandoned += 1
            level.finish_one()
        self._close()

    def _close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class HttpTransport:
    """POST <url>/invocations on keep-alive connections from one asyncio event loop."""

    def __init__(self, url: str, content_type: str, *, timeout_s: float = 60.0) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname:
            raise InputError(
                f"expected an http:// URL such as http://127.0.0.1:8080, got {url!r}", field="--url"
            )
        self.url = url
        self.content_type = content_type
        self.timeout_s = timeout_s
        self.host = parts.hostname
        self.port = parts.port or 80
        self.netloc = f"{self.host}:{self.port}"
        base = parts.path.rstrip("/")
        self.path = base if base.endswith("/invocations") else f"{base}/invocations"
        self.description = f"http://{self.netloc}{self.path}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: list[_HttpConnection] = []
        self._active: list[_HttpConnection] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self.request = b""

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "content_type": self.content_type, "timeout_s": self.timeout_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], state["content_type"], timeout_s=state["timeout_s"])  # type: ignore[misc]

    def _build_request(self, payload: bytes) -> bytes:
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.netloc}\r\n"
            f"Content-Type: {self.content_type}\r\n"
            f"Accept: */*\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        return head.encode("latin-1") + payload

    def run_level(
        self,
        payload: bytes,
        requests: int,
        concurrency: int,
        *,
        deadline: float,
        max_errors: int | None = None,
        tick: ProgressTick | None = None,
    ) -> RawLevel:
        if self._loop is None or self._loop.is_closed():
            self._loop = new_event_loop()
            self._closing = False
        self.request = self._build_request(payload)
        return self._loop.run_until_complete(
            self._run(requests, concurrency, deadline=deadline, max_errors=max_errors, tick=tick)
        )

    async def _connect(self) -> _HttpConnection:
        loop = asyncio.get_running_loop()
        _, protocol = await asyncio.wait_for(
            loop.create_connection(lambda: _HttpConnection(self), self.host, self.port),
            timeout=min(self.timeout_s, 10.0),
        )
        return protocol

    async def _connections(self, count: int, level: _Level) -> list[_HttpConnection]:
        """`count` open connections: idle ones first, then new ones (opened before timing)."""
        ready = [conn for conn in self._idle if not conn.closed][:count]
        self._idle = [conn for conn in self._idle if not conn.closed and conn not in ready]
        if len(ready) < count:
            results = await asyncio.gather(
                *(self._connect() for _ in range(count - len(ready))), return_exceptions=True
            )
            for result in results:
                if isinstance(result, _HttpConnection):
                    ready.append(result)
                elif level.take():
                    level.fail("connection", self._connect_message(result))
                    self._reconnect(level)
        return ready

    def _connect_message(self, error: BaseException) -> str:
        if isinstance(error, TimeoutError):
            return f"cannot connect to {self.netloc}: no answer within {min(self.timeout_s, 10.0):g} s"
        code = getattr(error, "errno", None)
        reason = os.strerror(code).lower() if code else str(error) or type(error).__name__
        return f"cannot connect to {self.netloc}: {reason}"

    def _reconnect(self, level: _Level) -> None:
        """Replace a closed connection while the level still has requests to send."""
        if level.issued >= level.total or level.aborted or self._closing:
            return
        task = asyncio.get_running_loop().create_task(self._replace(level))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _replace(self, level: _Level) -> None:
        try:
            conn = await self._connect()
        except (OSError, TimeoutError) as error:
            if level.take():
                level.fail("connection", self._connect_message(error))
                self._reconnect(level)
            return
        self._active.append(conn)
        conn.send(level)

    async def _run(
        self,
        requests: int,
        concurrency: int,
        *,
        deadline: float,
        max_errors: int | None,
        tick: ProgressTick | None,
    ) -> RawLevel:
        loop = asyncio.get_running_loop()
        raw = RawLevel(concurrency)
        level = _Level(raw, requests, max_errors, loop.create_future())
        connections = await self._connections(min(concurrency, requests), level)
        self._active = list(connections)
        started = time.perf_counter()
        for conn in connections:
            conn.send(level)
        # Without connections, replacements are being opened (or every request already failed).
        if level.in_flight == 0 and level.issued >= level.total and not level.done.done():
            level.done.set_result(None)
        watchdog = loop.create_task(self._watch(level, deadline, tick))
        try:
            await level.done
        finally:
            watchdog.cancel()
        raw.duration_s = time.perf_counter() - started
        self._idle.extend(conn for conn in self._active if not conn.closed and conn.level is None)
        self._active = []
        if tick is not None:
            tick(raw.completed)
        return raw

    async def _watch(self, level: _Level, deadline: float, tick: ProgressTick | None) -> None:
        while not level.done.done():
            await asyncio.sleep(_TICK_S)
            now = time.perf_counter()
            limit = now - self.timeout_s
            for conn in list(self._active):
                if conn.level is level and conn.t0 < limit:
                    conn.timeout(level)
            if time.monotonic() >= deadline and not level.aborted:
                level.aborted = True
                level.raw.aborted = "time budget ran out"
                for conn in list(self._active):
                    if conn.level is level:
                        conn.abandon()
                if level.in_flight == 0 and not level.done.done():
                    level.done.set_result(None)
            if tick is not None:
                tick(level.raw.completed)

    def close(self) -> None:
        self._closing = True
        for conn in self._idle + self._active:
            conn._close()
        self._idle, self._active = [], []
        if self._loop is not None and not self._loop.is_closed():
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()

            async def drain() -> None:
                await asyncio.gather(*tasks, return_exceptions=True)

            self._loop.run_until_complete(drain())
            self._loop.close()
        self._loop = None


def http_transport(url: str, content_type: str, *, timeout_s: float = 60.0) -> HttpTransport:
    """Direct `POST <url>/invocations` (local model servers, containers)."""
    return HttpTransport(url, content_type, timeout_s=timeout_s)


# -- SageMaker runtime (boto3 is imported only when this transport is used)

_THROTTLE_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})


def classify_client_error(response: dict[str, Any]) -> tuple[str, str]:
    """Map an InvokeEndpoint error response to (kind, one-line message)."""
    error = response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    message = str(error.get("Message", "")).strip()
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in _THROTTLE_CODES or status == 429:
        return "throttled", f"{code}: {message}"
    if code == "ModelError":
        # The container answered with an error; OriginalStatusCode is what it returned.
        original = int(response.get("OriginalStatusCode") or error.get("OriginalStatusCode") or 500)
        kind = "http_4xx" if 400 <= original < 500 else "http_5xx"
        return kind, f"model returned HTTP {original}: {message}"
    if code in ("ModelNotReadyException", "ServiceUnavailable", "InternalFailure") or status >= 500:
        return "http_5xx", f"{code}: {message}"
    return "http_4xx", f"{code}: {message}"


class SageMakerTransport:
    """boto3 `sagemaker-runtime` InvokeEndpoint from `concurrency` threads sharing one client."""

    def __init__(
        self, endpoint_name: str, content_type: str, *, client: Any = None, timeout_s: float = 60.0
    ) -> None:
        self.endpoint_name = endpoint_name
        self.content_type = content_type
        self.timeout_s = timeout_s
        self.description = f"SageMaker endpoint {endpoint_name}"
        self._given_client = client
        self._client = client
        self._pool_size = 0

    def __getstate__(self) -> dict[str, Any]:
        if self._given_client is not None:
            raise TypeError(
                "a SageMaker transport built around a given client cannot move to another process"
            )
        return {
            "endpoint_name": self.endpoint_name,
            "content_type": self.content_type,
            "timeout_s": self.timeout_s,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["endpoint_name"], state["content_type"], timeout_s=state["timeout_s"])  # type: ignore[misc]

    def client_for(self, concurrency: int) -> Any:
        """The shared client; its connection pool is sized to the concurrency, retries are off."""
        if self._given_client is not None:
            return self._given_client
        if self._client is None or self._pool_size < concurrency:
            import boto3
            from botocore.config import Config

            config = Config(
                max_pool_connections=max(concurrency, 10),
                retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=min(self.timeout_s, 10.0),
                read_timeout=self.timeout_s,
                tcp_keepalive=True,
            )
            self._client = aws.watched(boto3.client("sagemaker-runtime", config=config))
            self._pool_size = max(concurrency, 10)
        return self._client

    def run_level(
        self,
        payload: bytes,
        requests: int,
        concurrency: int,
        *,
        deadline: float,
        max_errors: int | None = None,
        tick: ProgressTick | None = None,
    ) -> RawLevel:
        from botocore.exceptions import (
            ClientError,
            ConnectionClosedError,
            ConnectTimeoutError,
            EndpointConnectionError,
            ReadTimeoutError,
        )

        client = self.client_for(concurrency)
        raw = RawLevel(concurrency)
        lock = threading.Lock()
        state = {"issued": 0, "errors": 0}
        stop = threading.Event()
        invoke = client.invoke_endpoint
        endpoint, content_type = self.endpoint_name, self.content_type

        def take() -> bool:
            with lock:
                if stop.is_set() or state["issued"] >= requests:
                    return False
                if time.monotonic() >= deadline:
                    raw.aborted = raw.aborted or "time budget ran out"
                    stop.set()
                    return False
                state["issued"] += 1
                return True

        def fail(kind: str, message: str) -> None:
            with lock:
                raw.error(kind, message)
                state["errors"] += 1
                if max_errors is not None and state["errors"] > max_errors and not stop.is_set():
                    raw.aborted = f"stopped after {state['errors']} errors"
                    stop.set()

        def worker() -> None:
            record = raw.latencies_ms.append
            while take():
                t0 = time.perf_counter()
                try:
                    response = invoke(EndpointName=endpoint, ContentType=content_type, Body=payload)
                    response["Body"].read()
                except ClientError as error:
                    fail(*classify_client_error(error.response))
                    continue
                except (ReadTimeoutError, ConnectTimeoutError) as error:
                    fail("timeout", str(error))
                    continue
                except (EndpointConnectionError, ConnectionClosedError) as error:
                    fail("connection", str(error))
                    continue
                except Exception as error:  # counted, never dropped
                    fail("other", f"{type(error).__name__}: {error}")
                    continue
                elapsed_ms = (time.perf_counter() - t0) * 1000.0
                with lock:
                    record(elapsed_ms)

        # Each thread runs in a copy of the caller's context, which says (locally) which function
        # makes the calls (infercost.local.calls).
        threads = [
            threading.Thread(target=contextvars.copy_context().run, args=(worker,), daemon=True)
            for _ in range(min(concurrency, requests))
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.1)
                if tick is not None:
                    tick(raw.completed)
        raw.duration_s = time.perf_counter() - started
        if tick is not None:
            tick(raw.completed)
        return raw

    def close(self) -> None:
        if self._given_client is None and self._client is not None:
            self._client.close()
            self._client = None


def sagemaker_transport(
    endpoint_name: str, content_type: str, *, client: Any = None, timeout_s: float = 60.0
) -> SageMakerTransport:
    """InvokeEndpoint through boto3; a given `client` is used as configured (pool, retries)."""
    return SageMakerTransport(endpoint_name, content_type, client=client, timeout_s=timeout_s)


_RESOLVERS: list[Callable[[str], str | None]] = []


def register_endpoint_resolver(resolver: Callable[[str], str | None]) -> None:
    """Let `endpoint_transport` reach an endpoint by URL (the local runtime maps names)."""
    _RESOLVERS.append(resolver)


def clear_endpoint_resolvers() -> None:
    _RESOLVERS.clear()


def endpoint_transport(endpoint_name: str, content_type: str, *, timeout_s: float = 60.0) -> Transport:
    """HTTP when a registered resolver knows the endpoint's URL, the SageMaker runtime otherwise."""
    for resolver in reversed(_RESOLVERS):
        url = resolver(endpoint_name)
        if url:
            return http_transport(url, content_type, timeout_s=timeout_s)
    return sagemaker_transport(endpoint_name, content_type, timeout_s=timeout_s)


# ----------------------------------------------------------------------------- the protocol


@dataclass(frozen=True)
class SweepStep:
    """One sweep level as one worker runs it: its share of the level's connections and requests."""

    level: int
    concurrency: int
    requests: int


def sweep_share(plan: LoadPlan, workers: int, index: int) -> list[SweepStep]:
    """Worker `index`'s share of every sweep level (levels with fewer connections than workers
    are run by the first workers only). The shares of a level add up to the level."""
    if workers < 1 or not 0 <= index < workers:
        raise InputError(f"worker {index} of {workers} does not exist", field="worker")
    per_level = plan.requests_per_level or plan.requests
    steps = []
    for level in (level for level in plan.concurrency if level > 1):
        concurrency = _share(level, workers, index)
        if concurrency:
            requests = max(1, round(per_level * concurrency / level))
            steps.append(SweepStep(level, concurrency, requests))
    return steps


def _share(total: int, parts: int, index: int) -> int:
    return total // parts + (1 if index < total % parts else 0)


class SweepShare(BaseModel):
    """What one worker of a fanned-out sweep measured: its share of each level it reached."""

    model_config = ConfigDict(frozen=True)

    worker: int = Field(ge=0)
    workers: int = Field(ge=1)
    levels: list[int] = Field(default_factory=list, description="the whole level of each sweep entry")
    sweep: list[LevelResult] = Field(default_factory=list)
    partial: bool = False
    notes: list[str] = Field(default_factory=list)


@dataclass
class Sweep:
    """A concurrency sweep's levels, what stopped it, and whether the time budget cut it short."""

    levels: list[LevelResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    partial: bool = False
    abandoned: int = 0


def merge_sweep_shares(shares: Sequence[SweepShare], plan: LoadPlan, slo: Slo | None) -> Sweep:
    """Merge the workers' shares level by level (sketches merge exactly, rates add).

    The merged sweep ends where it would have ended on one machine: after the first level that
    misses the SLO or the error budget, or before the first level a worker did not reach.
    """
    if not shares:
        raise ValueError("nothing to merge")
    workers = shares[0].workers
    merged = Sweep(notes=[f"sweep driven by {workers} workers at once, merged level by level"])
    for share in shares:
        merged.notes.extend(f"worker {share.worker}: {note}" for note in share.notes)
        merged.partial = merged.partial or share.partial
    for level in (level for level in plan.concurrency if level > 1):
        expected = min(workers, level)
        parts = [s.sweep[s.levels.index(level)] for s in shares if level in s.levels]
        if len(parts) < expected:
            merged.notes.append(
                f"sweep ends before concurrency {level}: {expected - len(parts)} of {expected} workers "
                "did not run it"
            )
            break
        result = merge_level_results(parts)
        merged.levels.append(result)
        if _ends_sweep(result, plan, slo, merged.notes):
            break
    return merged


def _ends_sweep(level: LevelResult, plan: LoadPlan, slo: Slo | None, notes: list[str]) -> bool:
    """Whether the sweep stops after `level` (error budget or SLO missed); says why in `notes`."""
    if level.error_rate > plan.max_error_rate:
        notes.append(
            f"sweep stopped at concurrency {level.concurrency}: {level.describe_errors()} "
            f"exceeds the {plan.max_error_rate:.0%} error budget"
        )
        return True
    breach = slo_breach(level, slo) if slo is not None else None
    if breach is not None:
        notes.append(f"sweep stopped: {breach}")
        return True
    if level.errors:
        notes.append(f"concurrency {level.concurrency}: {level.describe_errors()}")
    return False


def slo_breach(level: LevelResult, slo: Slo) -> str | None:
    """Why `level` misses the SLO, or None when it meets it."""
    value = level.latency_at(slo.percentile)
    if value is None:
        return f"no successful request at concurrency {level.concurrency}"
    if value > slo.max_latency_ms:
        return (
            f"{slo.percentile} {value:.1f} ms > {slo.max_latency_ms:g} ms at concurrency {level.concurrency}"
        )
    return None


def max_rps_at_slo(levels: Sequence[LevelResult], slo: Slo | None, *, max_error_rate: float) -> float | None:
    """The highest throughput among levels that meet the SLO and the error budget."""
    if slo is None:
        return None
    passing = [
        level.rps for level in levels if slo_breach(level, slo) is None and level.error_rate <= max_error_rate
    ]
    return max(passing) if passing else None


class _Clock:
    """The time budget of one load test."""

    def __init__(self, budget_s: float | None) -> None:
        self.start = time.monotonic()
        self.deadline = self.start + budget_s if budget_s is not None else math.inf

    def until(self, deadline: float) -> _Clock:
        """The same clock with an earlier deadline (for a phase that must leave time for another)."""
        phase = _Clock(None)
        phase.start = self.start
        phase.deadline = min(self.deadline, deadline)
        return phase

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def elapsed(self) -> float:
        return time.monotonic() - self.start


def _ticker(
    progress: Callable[[LoadProgress], None] | None,
    phase: Phase,
    concurrency: int,
    total: int,
    clock: _Clock,
) -> ProgressTick | None:
    if progress is None:
        return None

    def tick(done: int) -> None:
        progress(LoadProgress(phase, concurrency, min(done, total), total, clock.elapsed()))

    return tick


def _serial(
    transport: Transport,
    payload: bytes,
    count: int,
    phase: Phase,
    clock: _Clock,
    progress: Callable[[LoadProgress], None] | None,
    previous_failures: int,
) -> RawLevel:
    """A serial phase; fails fast when the first requests of the test all fail."""
    tick = _ticker(progress, phase, 1, count, clock)
    probe = min(count, FAIL_FAST_AFTER - previous_failures)
    if probe <= 0:
        return transport.run_level(payload, count, 1, deadline=clock.deadline, tick=tick)
    first = transport.run_level(payload, probe, 1, deadline=clock.deadline, tick=tick)
    if not first.latencies_ms and previous_failures + first.completed >= FAIL_FAST_AFTER:
        _raise_unusable(transport, first, previous_failures + first.completed)
    if count == probe or clock.expired():
        return first
    rest = transport.run_level(
        payload, count - probe, 1, deadline=clock.deadline, tick=_offset(tick, first.completed)
    )
    return _concat(first, rest)


def _offset(tick: ProgressTick | None, done: int) -> ProgressTick | None:
    if tick is None:
        return None
    return lambda more: tick(done + more)


def _concat(first: RawLevel, second: RawLevel) -> RawLevel:
    joined = first.merged_with(second)
    joined.concurrency = first.concurrency
    joined.duration_s = first.duration_s + second.duration_s
    return joined


_HINTS = {
    "connection": "check that the endpoint is up (InService) and reachable",
    "timeout": "check that the endpoint is up (InService) and answers within the timeout",
    "http_4xx": "check that the payload and content type suit the model",
    "throttled": "the endpoint refuses the rate: check its quotas and concurrency",
}


def _raise_unusable(transport: Transport, raw: RawLevel, attempts: int) -> None:
    if not raw.errors:
        raise LoadTestError(
            f"no request to {transport.description} completed ({raw.aborted or 'no time left'})"
        )
    kind, _ = raw.errors.most_common(1)[0]
    example = raw.examples.get(kind, kind)
    raise LoadTestError(
        f"the first {attempts} requests to {transport.description} all failed ({kind}): {example}",
        # InvokeEndpoint answers a missing or not-InService endpoint with a 400 ValidationError.
        hint=_HINTS["connection"]
        if "Endpoint " in example
        else _HINTS.get(kind, "check the endpoint's logs"),
    )


def run_load_test(
    transport: Transport,
    payload: bytes,
    plan: LoadPlan,
    *,
    slo: Slo | None = None,
    progress: Callable[[LoadProgress], None] | None = None,
    time_budget_s: float | None = None,
    workers: int = 1,
    minute_aligned: bool = False,
    fresh_second: bool = False,
    swept: Sweep | None = None,
) -> LoadTestResult:
    """Warm-up (discarded), the concurrency sweep, then `plan.requests` measured one in flight.

    The measured run comes last so that the CloudWatch window from its start to its end plus a
    buffer holds no other request; `minute_aligned` also starts it on a fresh minute, because
    CloudWatch aggregates SageMaker's latency per minute (a deployed run sets it); `fresh_second`
    starts it on a fresh second, for metrics kept per second (the local stack's model servers). The sweep runs each level > 1 of
    `plan.concurrency` and stops at the first level that misses the SLO or exceeds
    `plan.max_error_rate`. With `workers` > 1 the sweep levels are driven by that
    many processes at once (each holds its share of the connections). `swept` is a sweep already
    run elsewhere (the workflow's workers, `merge_sweep_shares`): then only the warm-up and the
    measured run are driven here. When the time budget runs out the result is marked partial.
    """
    clock = _Clock(time_budget_s)
    notes: list[str] = []

    warm = RawLevel(1)
    if plan.warmup:
        warm = _serial(transport, payload, plan.warmup, "warmup", clock, progress, 0)
        if warm.errors:
            notes.append(f"warm-up: {sum(warm.errors.values())} of {warm.completed} requests failed")
    warm_failures = 0 if warm.latencies_ms else warm.completed

    if swept is None:
        # The sweep runs first but must leave the measured run its time.
        sweep_clock = clock.until(clock.deadline - _measured_reserve_s(plan, warm, clock, minute_aligned))
        swept = _sweep(transport, payload, sweep_share(plan, 1, 0), plan, slo, sweep_clock, progress, workers)
    sweep = swept.levels
    notes.extend(swept.notes)
    partial = swept.partial

    if minute_aligned:
        _wait_for_next_minute(clock, notes)
    elif fresh_second:
        _wait_for_next_second(clock)
    started_at = time.time()
    serial = _serial(transport, payload, plan.requests, "measured", clock, progress, warm_failures)
    ended_at = time.time()
    if not serial.latencies_ms:
        _raise_unusable(transport, serial, warm_failures + serial.completed)
    measured = serial.to_level()
    if serial.completed < plan.requests:
        partial = True
        notes.append(
            f"measured run stopped after {serial.completed} of {plan.requests} requests: {serial.aborted}"
        )
    if measured.errors:
        notes.append(
            f"measured run: {measured.describe_errors()}; latency is of the {measured.ok} successes only"
        )

    abandoned = serial.abandoned + swept.abandoned
    if abandoned:
        notes.append(f"{abandoned} requests in flight when the time budget ran out were not counted")
    return LoadTestResult(
        started_at=started_at,
        ended_at=ended_at,
        measured=measured,
        sweep=sweep,
        max_rps_at_slo=max_rps_at_slo([measured, *sweep], slo, max_error_rate=plan.max_error_rate),
        slo=slo,
        partial=partial,
        notes=notes,
    )


def _sweep(
    transport: Transport,
    payload: bytes,
    steps: Sequence[SweepStep],
    plan: LoadPlan,
    slo: Slo | None,
    clock: _Clock,
    progress: Callable[[LoadProgress], None] | None,
    workers: int = 1,
) -> Sweep:
    """Run `steps` in order; stop after the first that misses the SLO or the error budget."""
    swept = Sweep()
    max_error_rate = plan.max_error_rate
    pool = _WorkerPool(transport, payload, workers) if workers > 1 and steps else None
    try:
        for step in steps:
            if clock.expired():
                swept.partial = True
                swept.notes.append(f"time budget ran out before concurrency {step.concurrency}")
                break
            tick = _ticker(progress, "sweep", step.concurrency, step.requests, clock)
            if pool is not None:
                raw = pool.run_level(
                    step.requests, step.concurrency, deadline_in_s=clock.deadline - time.monotonic()
                )
                if tick is not None:
                    tick(raw.completed)
            else:
                raw = transport.run_level(
                    payload,
                    step.requests,
                    step.concurrency,
                    deadline=clock.deadline,
                    max_errors=math.floor(max_error_rate * step.requests),
                    tick=tick,
                )
            level = raw.to_level()
            swept.levels.append(level)
            swept.abandoned += raw.abandoned
            if raw.aborted == "time budget ran out":
                swept.partial = True
                swept.notes.append(f"time budget ran out during concurrency {step.concurrency}")
                break
            if _ends_sweep(level, plan, slo, swept.notes):
                break
    finally:
        if pool is not None:
            pool.close()
    return swept


def run_sweep_share(
    transport: Transport,
    payload: bytes,
    plan: LoadPlan,
    *,
    worker: int,
    workers: int,
    slo: Slo | None = None,
    time_budget_s: float | None = None,
    progress: Callable[[LoadProgress], None] | None = None,
) -> SweepShare:
    """One worker of a fanned-out sweep: a share of the warm-up (to open its connections), then its
    share of each level. The shares of all workers merge with `merge_sweep_shares`."""
    clock = _Clock(time_budget_s)
    steps = sweep_share(plan, workers, worker)
    notes: list[str] = []
    warmup = math.ceil(plan.warmup / workers)
    if warmup and steps:
        warm = _serial(transport, payload, warmup, "warmup", clock, progress, 0)
        if warm.errors:
            notes.append(f"warm-up: {sum(warm.errors.values())} of {warm.completed} requests failed")
    swept = _sweep(transport, payload, steps, plan, slo, clock, progress)
    if swept.abandoned:
        notes.append(f"{swept.abandoned} requests in flight when the time budget ran out were not counted")
    return SweepShare(
        worker=worker,
        workers=workers,
        levels=[step.level for step in steps[: len(swept.levels)]],
        sweep=swept.levels,
        partial=swept.partial,
        notes=[*notes, *swept.notes],
    )


def _measured_reserve_s(plan: LoadPlan, warm: RawLevel, clock: _Clock, minute_aligned: bool) -> float:
    """Seconds to keep for the measured run: its requests at the warm-up's pace, with a margin."""
    if clock.deadline == math.inf:
        return 0.0
    if warm.latencies_ms:
        pace_s = sum(warm.latencies_ms) / len(warm.latencies_ms) / 1000
        return plan.requests * pace_s * 1.5 + (61.0 if minute_aligned else 0.0) + 1.0
    # No warm-up to learn the pace from: split what is left.
    return max(0.0, clock.deadline - time.monotonic()) / 2


def _wait_for_next_minute(clock: _Clock, notes: list[str]) -> None:
    """Sleep until one second past the next minute boundary, within the time budget."""
    wait_s = 61 - time.time() % 60
    if time.monotonic() + wait_s >= clock.deadline:
        notes.append(
            "no time left to start the measured run on a fresh minute; CloudWatch may mix in the sweep"
        )
        return
    time.sleep(wait_s)


def _wait_for_next_second(clock: _Clock) -> None:
    """Sleep just past the next whole second, so no earlier request shares a per-second datapoint."""
    wait_s = 1.01 - time.time() % 1
    if time.monotonic() + wait_s < clock.deadline:
        time.sleep(wait_s)


# ----------------------------------------------------------------------------- local worker pool

_worker_transport: Transport | None = None
_worker_payload = b""


def _init_worker(transport_state: bytes, payload: bytes) -> None:
    global _worker_transport, _worker_payload
    _worker_transport = pickle.loads(transport_state)
    _worker_payload = payload


def _worker_level(requests: int, concurrency: int, deadline_in_s: float) -> RawLevel:
    assert _worker_transport is not None
    deadline = time.monotonic() + deadline_in_s
    return _worker_transport.run_level(_worker_payload, requests, concurrency, deadline=deadline)


class _WorkerPool:
    """Processes that each hold their own connections and run a share of every level at once."""

    def __init__(self, transport: Transport, payload: bytes, workers: int) -> None:
        import multiprocessing

        self.workers = workers
        context = multiprocessing.get_context("spawn")
        self.pool: Pool = context.Pool(
            workers, initializer=_init_worker, initargs=(pickle.dumps(transport), payload)
        )

    def run_level(self, requests: int, concurrency: int, *, deadline_in_s: float) -> RawLevel:
        count = min(self.workers, concurrency)
        jobs = [
            (
                _share(requests, count, index),
                _share(concurrency, count, index),
                max(0.0, deadline_in_s),
            )
            for index in range(count)
        ]
        parts: list[RawLevel] = self.pool.starmap(_worker_level, jobs)
        merged = parts[0]
        for part in parts[1:]:
            merged = merged.merged_with(part)
        return merged

    def close(self) -> None:
        self.pool.close()
        self.pool.join()


__all__ = [
    "FAIL_FAST_AFTER",
    "HttpTransport",
    "LevelResult",
    "LoadProgress",
    "LoadTestError",
    "LoadTestResult",
    "RawLevel",
    "SageMakerTransport",
    "Sweep",
    "SweepShare",
    "SweepStep",
    "Transport",
    "classify_client_error",
    "clear_endpoint_resolvers",
    "endpoint_transport",
    "http_transport",
    "max_rps_at_slo",
    "merge_level_results",
    "merge_sweep_shares",
    "new_event_loop",
    "register_endpoint_resolver",
    "results_document",
    "run_load_test",
    "run_sweep_share",
    "sagemaker_transport",
    "slo_breach",
    "sweep_share",
]


def results_document(result: LoadTestResult, *, model: str, candidate: Candidate) -> dict[str, Any]:
    """The load test as an `infercost.results/v1` file (client-side latency), plus the detail.

    `infercost recommend` reads it; the `loadtest` key keeps every level, note and sketch.
    """
    entry = CandidateResult(
        candidate=candidate,
        latency_ms=result.latency_ms,
        max_rps_at_slo=result.max_rps_at_slo,
        invocations=result.measured.requests,
        errors=result.measured.errors,
        source="client",
    )
    document = ResultsFile(schema_=RESULTS_SCHEMA, model=model, slo=result.slo, results=[entry]).to_json()
    document["loadtest"] = result.model_dump(mode="json")
    return document
