"""Direct HTTP/1.1 to a container URL: asyncio, keep-alive connections, one callback per response
(the hot path does little Python)."""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from infercost.domain.errors import InputError

if TYPE_CHECKING:
    pass
from infercost.measurement.eventstream import EventStreamReader
from infercost.measurement.results import ProgressTick, RawLevel
from infercost.measurement.transport import TICK_S, LoopWatch, new_event_loop


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
        "streamed",
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
        self.streamed = raw.streamed

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
    """One keep-alive connection; it sends the next request as soon as a response completes.

    Responses are parsed by httptools (llhttp, the parser of Node.js): measured against the
    hand-written parser it replaced, as fast at every concurrency (docs/benchmarks.md), and
    it knows the corners of HTTP/1.1 (chunked bodies, trailers, keep-alive rules).
    """

    def __init__(self, owner: HttpTransport) -> None:
        import httptools

        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.level: _Level | None = None
        self.t0 = 0.0
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.error_type = ""
        self.error_body = bytearray()
        self.reader: Any = None
        self.headers_done = False
        self.framed = False  # the body's end is given by a length or chunking, not by EOF
        self.complete = False
        self.close_after = False
        self.closed = False
        self.connect_error = ""

    # -- httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        if lower in (b"content-length", b"transfer-encoding"):
            self.framed = True
        elif lower == b"x-amzn-errortype":
            self.error_type = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.headers_done = True
        self.status = self.parser.get_status_code()
        # Only valid while the message is being parsed.
        self.close_after = not self.parser.should_keep_alive()

    def on_body(self, data: bytes) -> None:
        if self.status >= 400:
            if len(self.error_body) < 4096:
                self.error_body += data
        elif self.reader is not None:
            self.reader.feed(data)

    def on_message_complete(self) -> None:
        self.complete = True

    # -- asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        level = self.level
        if level is None:
            return
        self.level = None
        if self.headers_done and exc is None and not self.framed:
            # A body delimited by the end of the connection (no length, not chunked).
            self._complete(level)
            return
        where = "mid-response" if self.headers_done else "before the response"
        # A streamed answer cut off after it began is a broken stream, not an unreachable endpoint.
        kind = "stream" if self.headers_done and self.reader is not None else "connection"
        self.reader = None
        level.fail(kind, f"connection closed by {self.owner.netloc} {where}: {exc or 'EOF'}")
        self.owner._reconnect(level)

    def data_received(self, data: bytes) -> None:
        import httptools

        level = self.level
        if level is None:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._abort(level, "other", f"not an HTTP response from {self.owner.netloc}")
            return
        if self.complete:
            self._complete(level)

    # -- helpers
    def _complete(self, level: _Level) -> None:
        elapsed_ms = (time.perf_counter() - self.t0) * 1000.0
        self.complete = self.headers_done = self.framed = False
        status = self.status
        if status < 400:
            reader = self.reader
            if reader is None:
                level.record(elapsed_ms)
                level.finish_one()
            else:
                self.reader = None
                streamed = reader.finish()
                if isinstance(streamed, str):
                    level.fail("stream", f"{self.owner.netloc}: {streamed}")
                else:
                    level.record(elapsed_ms)
                    level.streamed(streamed)
                    level.finish_one()
        else:
            level.fail(*self.owner.classify(status, self.error_type, bytes(self.error_body)))
            self.error_type = ""
            self.error_body.clear()
        if self.close_after:
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
        self.status = 0
        owner = self.owner
        self.t0 = time.perf_counter()
        request = owner.request
        if owner.requests:
            # Several request bodies (an LLM workload's prompts), sent in turn.
            turn = owner.turn % len(owner.requests)
            owner.turn += 1
            request = owner.requests[turn]
            if owner.streaming:
                self.reader = owner.new_reader(self.t0, turn)
        elif owner.streaming:
            self.reader = owner.new_reader(self.t0, 0)
        assert self.transport is not None
        self.transport.write(request)

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

    streaming = False
    ssl: Any = None

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
        self.requests: list[bytes] = []
        self.turn = 0

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "content_type": self.content_type, "timeout_s": self.timeout_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], state["content_type"], timeout_s=state["timeout_s"])  # type: ignore[misc]

    def classify(self, status: int, error_type: str, body: bytes) -> tuple[str, str]:
        """(error kind, one-line message) for a response with status >= 400."""
        if status == 429:
            return "throttled", f"HTTP 429 from {self.netloc}"
        if status < 500:
            return "http_4xx", f"HTTP {status} from {self.netloc}"
        return "http_5xx", f"HTTP {status} from {self.netloc}"

    def refresh(self) -> None:
        """Called a few times a second from the event loop (signing transports re-sign here)."""

    def new_reader(self, t0: float, prompt: int) -> Any:
        """The reader of one streamed response (AWS event-stream framing; an LLM transport reads text)."""
        return EventStreamReader(t0)

    def new_level(self, concurrency: int) -> RawLevel:
        """The raw record of one level (an LLM transport adds its token accumulator)."""
        return RawLevel(concurrency)

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
            loop.create_connection(
                lambda: _HttpConnection(self),
                self.host,
                self.port,
                ssl=self.ssl,
                server_hostname=self.host if self.ssl is not None else None,
            ),
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
        if isinstance(error, ssl.SSLCertVerificationError):
            return (
                f"cannot connect to {self.netloc}: TLS certificate not trusted ({error.verify_message}; "
                "CERTIFICATE_VERIFY_FAILED): check AWS_CA_BUNDLE"
            )
        if isinstance(error, ssl.SSLError):
            return f"cannot connect to {self.netloc}: TLS error ({error.reason or error})"
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
        raw = self.new_level(concurrency)
        level = _Level(raw, requests, max_errors, loop.create_future())
        connections = await self._connections(min(concurrency, requests), level)
        self._active = list(connections)
        watch = LoopWatch(raw)
        started = time.perf_counter()
        for conn in connections:
            conn.send(level)
        # Without connections, replacements are being opened (or every request already failed).
        if level.in_flight == 0 and level.issued >= level.total and not level.done.done():
            level.done.set_result(None)
        watchdog = loop.create_task(self._watch(level, deadline, tick, watch))
        try:
            await level.done
        finally:
            watchdog.cancel()
        raw.duration_s = time.perf_counter() - started
        watch.stop()
        self._idle.extend(conn for conn in self._active if not conn.closed and conn.level is None)
        self._active = []
        if tick is not None:
            tick(raw.completed)
        return raw

    async def _watch(
        self, level: _Level, deadline: float, tick: ProgressTick | None, watch: LoopWatch
    ) -> None:
        while not level.done.done():
            await asyncio.sleep(TICK_S)
            now = time.perf_counter()
            watch.woke(now)
            self.refresh()
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
