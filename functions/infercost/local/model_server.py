"""A local server speaking the SageMaker container contract (`GET /ping`, `POST /invocations`).

It serves a small real model built deterministically (a NumPy MLP, weights from a fixed seed)
behind a declared `SpeedProfile`, binds to 127.0.0.1 on a free port, and, given a CloudWatch
client, publishes `ModelLatency`, `OverheadLatency`, `Invocations` and error counts to
`AWS/SageMaker` the way SageMaker does. One asyncio event loop in one thread; it stops itself
after `max_lifetime_s`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from infercost.domain.sketch import LatencySketch
from infercost.local.profiles import NOOP, SpeedProfile, fixed_delay
from infercost.measurement.transport import new_event_loop

if TYPE_CHECKING:
    import numpy as np

    from infercost.local.text_model import TextModel

N_FEATURES = 16
N_HIDDEN = 32
N_CLASSES = 3
MODEL_SEED = 20_240_601
VARIANT = "AllTraffic"
_MAX_VALUES_PER_DATUM = 150  # PutMetricData accepts at most 150 distinct Values per datum
_MAX_BODY = 6 * 1024 * 1024  # SageMaker's real-time payload limit


class TinyMlp:
    """16 features -> 32 tanh units -> 3-class softmax; weights drawn from a fixed seed."""

    def __init__(self, seed: int = MODEL_SEED) -> None:
        import numpy as np

        rng = np.random.default_rng(seed)
        self.w1 = rng.normal(0, 1 / math.sqrt(N_FEATURES), (N_FEATURES, N_HIDDEN))
        self.b1 = rng.normal(0, 0.1, N_HIDDEN)
        self.w2 = rng.normal(0, 1 / math.sqrt(N_HIDDEN), (N_HIDDEN, N_CLASSES))
        self.b2 = rng.normal(0, 0.1, N_CLASSES)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        import numpy as np

        hidden = np.tanh(rows @ self.w1 + self.b1)
        logits = hidden @ self.w2 + self.b2
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        result: np.ndarray = weights / weights.sum(axis=1, keepdims=True)
        return result


class BadRequest(ValueError):
    """A payload the model cannot read; answered with HTTP 400 and this one-line message."""


def parse_rows(body: bytes, content_type: str) -> np.ndarray:
    """Rows of 16 features from JSON (`{"instances": [[...]]}`, `[[...]]`, `[...]`) or CSV."""
    import numpy as np

    kind = content_type.split(";")[0].strip().lower()
    try:
        if kind == "text/csv":
            rows: Any = [
                [float(cell) for cell in line.split(",")]
                for line in body.decode().splitlines()
                if line.strip()
            ]
        elif kind in ("application/json", "application/jsonlines", ""):
            data = json.loads(body)
            rows = data.get("instances") if isinstance(data, dict) else data
            if isinstance(rows, list) and rows and not isinstance(rows[0], list):
                rows = [rows]
        else:
            raise BadRequest(f"content type {kind!r} is not supported: use application/json or text/csv")
        array = np.asarray(rows, dtype=float)
    except (ValueError, TypeError, UnicodeDecodeError) as error:
        if isinstance(error, BadRequest):
            raise
        raise BadRequest(f"payload is not {kind or 'JSON'} rows of numbers") from None
    if array.ndim != 2 or array.shape[1] != N_FEATURES or array.shape[0] == 0:
        raise BadRequest(f"expected rows of {N_FEATURES} numbers, got shape {list(array.shape)}")
    return array


def sample_payload(rows: int = 1, *, seed: int = 1) -> bytes:
    """A valid JSON request for the model: `rows` rows of 16 features."""
    generator = random.Random(seed)
    data = [[round(generator.uniform(-1, 1), 4) for _ in range(N_FEATURES)] for _ in range(rows)]
    return json.dumps({"instances": data}, separators=(",", ":")).encode()


class MetricBuffer:
    """Per-second counts of request metrics, flushed to CloudWatch with Values/Counts."""

    def __init__(self, cloudwatch: Any, endpoint_name: str) -> None:
        self.cloudwatch = cloudwatch
        self.dimensions = [
            {"Name": "EndpointName", "Value": endpoint_name},
            {"Name": "VariantName", "Value": VARIANT},
        ]
        self.lock = threading.Lock()
        self.latency: dict[tuple[str, int], Counter[int]] = {}
        self.counts: dict[tuple[str, int], int] = {}

    def record(self, second: int, model_us: int, overhead_us: int, status: int) -> None:
        with self.lock:
            for name, value in (("ModelLatency", model_us), ("OverheadLatency", overhead_us)):
                self.latency.setdefault((name, second), Counter())[value] += 1
            for name, hit in (
                ("Invocations", True),
                ("Invocation4XXErrors", 400 <= status < 500),
                ("Invocation5XXErrors", status >= 500),
            ):
                self.counts[(name, second)] = self.counts.get((name, second), 0) + int(hit)

    def flush(self) -> int:
        """Send what is buffered; returns the number of PutMetricData calls."""
        with self.lock:
            latency, counts = self.latency, self.counts
            self.latency, self.counts = {}, {}
        data: list[dict[str, Any]] = []
        for (name, second), values in sorted(latency.items()):
            items = sorted(values.items())
            for start in range(0, len(items), _MAX_VALUES_PER_DATUM):
                chunk = items[start : start + _MAX_VALUES_PER_DATUM]
                data.append(
                    {
                        "MetricName": name,
                        "Dimensions": self.dimensions,
                        "Timestamp": datetime.fromtimestamp(second, UTC),
                        "Unit": "Microseconds",
                        "Values": [float(value) for value, _ in chunk],
                        "Counts": [float(count) for _, count in chunk],
                    }
                )
        for (name, second), count in sorted(counts.items()):
            data.append(
                {
                    "MetricName": name,
                    "Dimensions": self.dimensions,
                    "Timestamp": datetime.fromtimestamp(second, UTC),
                    "Unit": "None",
                    "Value": float(count),
                }
            )
        calls = 0
        for start in range(0, len(data), 500):
            self.cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data[start : start + 500])
            calls += 1
        return calls


class _Request:
    __slots__ = ("arrived", "body", "connection", "content_type", "parsed", "via_runtime")

    def __init__(
        self,
        connection: _Connection,
        body: bytes,
        content_type: str,
        arrived: float,
        parsed: float,
        via_runtime: bool = False,
    ) -> None:
        self.via_runtime = via_runtime
        self.connection = connection
        self.body = body
        self.content_type = content_type
        self.arrived = arrived
        self.parsed = parsed


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


def _response(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    reason = _REASONS.get(status, "Error")
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _runtime_error(status: int, body: bytes) -> bytes:
    """A container's error as the SageMaker runtime returns it to the caller: 424 ModelError with
    the container's status in OriginalStatusCode."""
    side = "client" if status < 500 else "server"
    text = body.decode(errors="replace")
    document = {
        "ErrorCode": f"{side.upper()}_ERROR_FROM_MODEL",
        "OriginalStatusCode": status,
        "OriginalMessage": text,
        "Message": f'Received {side} error ({status}) from primary with message "{text}".',
    }
    head = _response(424, json.dumps(document).encode())
    return head.replace(b"\r\n", b"\r\nx-amzn-ErrorType: ModelError:http://internal.amazon.com/\r\n", 1)


_NOOP_BODY = b'{"predictions":[]}'
_NOOP_RESPONSE = _response(200, _NOOP_BODY)
_PING_RESPONSE = _response(200, b"", "text/plain")


class _Connection(asyncio.Protocol):
    """One client connection: parses requests (keep-alive, pipelined) and hands them on."""

    def __init__(self, server: ModelServer) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.first_byte = 0.0
        self.continued = False
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._connections.discard(self)
        self.transport = None

    def write(self, data: bytes) -> None:
        """Send a response; a client that asked for `Connection: close` is then disconnected."""
        if self.transport is not None:
            self.transport.write(data)
            if self.closing and not data.startswith(b"HTTP/1.1 100 "):
                self.transport.close()

    def data_received(self, data: bytes) -> None:
        if not self.buffer:
            self.first_byte = time.perf_counter()
        buffer = self.buffer + data if self.buffer else data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end]
            lower = head.lower()
            start = lower.find(b"\r\ncontent-length:")
            length = 0
            if start >= 0:
                stop = lower.find(b"\r\n", start + 17)
                length = int(lower[start + 17 : stop if stop >= 0 else len(lower)])
            if length > _MAX_BODY:
                self.write(_response(413, b'{"error":"payload larger than 6 MB"}'))
                self._close()
                return
            total = end + 4 + length
            if len(buffer) < total:
                if not self.continued and b"\r\nexpect: 100-continue" in lower:
                    self.continued = True
                    self.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                break
            body = buffer[end + 4 : total]
            buffer = buffer[total:]
            self.continued = False
            first_line = lower[: lower.find(b"\r\n")] if b"\r\n" in lower else lower
            self.closing = b"\r\nconnection: close" in lower or (
                first_line.endswith(b"http/1.0") and b"\r\nconnection: keep-alive" not in lower
            )
            self.server._dispatch(self, head, lower, body, self.first_byte)
            self.first_byte = time.perf_counter()
            if self.closing:
                buffer = b""
                break
        self.buffer = buffer

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class ModelServer:
    """The local model server: `start()` returns its URL, `stop()` ends it; a context manager."""

    def __init__(
        self,
        profile: SpeedProfile = NOOP,
        *,
        endpoint_name: str | None = None,
        cloudwatch: Any = None,
        region: str = "us-east-1",
        port: int = 0,
        max_lifetime_s: float = 3600.0,
        flush_interval_s: float = 5.0,
        tls: tuple[str, str] | None = None,
        text: TextModel | None = None,
    ) -> None:
        """`tls`, a (certificate, key) file pair, serves HTTPS (the benchmarks' TLS path); `text`
        serves a streaming text generator instead of the MLP (local/text_model.py)."""
        self.tls, self.text = tls, text
        if cloudwatch is not None and not endpoint_name:
            raise ValueError("publishing metrics needs the endpoint_name they belong to")
        self.profile = profile
        self.endpoint_name = endpoint_name
        self.region = region
        self.port = port
        self.max_lifetime_s = max_lifetime_s
        self.flush_interval_s = flush_interval_s
        self.metrics = MetricBuffer(cloudwatch, endpoint_name or "") if cloudwatch else None
        self.model = TinyMlp() if not profile.noop else None
        self.sketch = LatencySketch()
        self.invocations = 0
        self.status_counts: Counter[int] = Counter()
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[_Connection] = set()
        self._queue: deque[_Request] = deque()
        self._busy = 0
        self._turn = 0
        self._last_request = -math.inf
        self._random = random.Random(profile.seed)
        self._stopped = threading.Event()
        self._flusher: threading.Thread | None = None

    def _ssl_context(self) -> Any:
        if self.tls is None:
            return None
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self.tls)
        return context

    # -- lifecycle
    def start(self) -> str:
        """Bind 127.0.0.1 (a free port unless one was given) and serve in a background thread."""
        if self._thread is not None:
            return self.url
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    loop.create_server(
                        lambda: _Connection(self), "127.0.0.1", self.port, ssl=self._ssl_context()
                    )
                )
            except OSError as error:
                failure.append(error)
                ready.set()
                loop.close()
                return
            self.port = self._server.sockets[0].getsockname()[1]
            loop.call_later(self.max_lifetime_s, self._shutdown)
            ready.set()
            try:
                loop.run_forever()
            finally:
                self._server.close()
                # abort, not close: a client that stopped reading must not hold the shutdown
                # (wait_closed waits for every connection on Python 3.12).
                for connection in list(self._connections):
                    if connection.transport is not None:
                        connection.transport.abort()
                loop.run_until_complete(self._server.wait_closed())
                loop.close()
                self._stopped.set()

        self._thread = threading.Thread(target=serve, name="infercost-model-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            self._thread.join()
            self._thread = None
            raise OSError(f"model server cannot listen on 127.0.0.1:{self.port}: {failure[0]}")
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"
        if self.metrics is not None:
            self._flusher = threading.Thread(target=self._flush_loop, name="infercost-metrics")
            self._flusher.daemon = True
            self._flusher.start()
        return self.url

    def _shutdown(self) -> None:
        if self._loop is not None:
            self._loop.stop()

    def stop(self) -> None:
        """Stop serving, close connections, flush metrics; leaves no thread or port behind."""
        if self._thread is None:
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # The loop may close itself (lifetime over) in the meantime.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._shutdown)
        self._thread.join(10)
        self._thread = None
        self._stopped.set()
        if self._flusher is not None:
            self._flusher.join(10)
            self._flusher = None
        if self.metrics is not None:
            self.metrics.flush()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the server stops (lifetime over or `stop()`); True when it has stopped."""
        return self._stopped.wait(timeout_s)

    def __enter__(self) -> ModelServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _flush_loop(self) -> None:
        assert self.metrics is not None
        while not self._stopped.wait(self.flush_interval_s):
            self.metrics.flush()

    # -- statistics
    def stats(self) -> dict[str, Any]:
        """What the server saw: invocations, statuses, and its own ModelLatency (ms)."""
        latency = self.sketch.stats()
        return {
            "invocations": self.invocations,
            "status_counts": {str(k): v for k, v in sorted(self.status_counts.items())},
            "model_latency_ms": latency.model_dump() if latency else None,
            "sketch": self.sketch.to_text(),
            "profile": self.profile.model_dump(),
        }

    def reset_stats(self) -> None:
        self.sketch = LatencySketch()
        self.invocations = 0
        self.status_counts = Counter()

    # -- request handling (event loop thread)
    def _dispatch(
        self, connection: _Connection, head: bytes, lower: bytes, body: bytes, arrived: float
    ) -> None:
        # The SageMaker runtime's path too, so that the InvokeEndpoint transport reaches this
        # server as it reaches SageMaker (the local stack; AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME).
        via_runtime = head.startswith(b"POST /endpoints/") and b"/invocations " in head[:300]
        if self.text is not None and head.startswith(b"POST /"):
            self.text.handle(self, connection, head, body, arrived)
        elif via_runtime or head.startswith(b"POST /invocations "):
            start = lower.find(b"\r\ncontent-type:")
            content_type = ""
            if start >= 0:
                stop = lower.find(b"\r\n", start + 15)
                content_type = lower[start + 15 : stop if stop >= 0 else len(lower)].decode().strip()
            request = _Request(connection, body, content_type, arrived, time.perf_counter(), via_runtime)
            if self.profile.immediate:
                self._serve([request])
            else:
                self._queue.append(request)
                self._schedule()
        elif head.startswith(b"GET /ping "):
            connection.write(_PING_RESPONSE)
        elif head.startswith(b"GET /stats "):
            connection.write(_response(200, json.dumps(self.stats()).encode()))
        elif head.startswith(b"DELETE /stats "):
            self.reset_stats()
            connection.write(_response(200, b"{}"))
        else:
            connection.write(_response(404, b'{"error":"not found"}'))

    def _schedule(self) -> None:
        """Start batches while workers are free (service time simulated with a timer)."""
        profile = self.profile
        assert self._loop is not None
        while self._queue and self._busy < profile.workers:
            batch = [self._queue.popleft() for _ in range(min(profile.max_batch, len(self._queue)))]
            now = time.perf_counter()
            if profile.delays_ms:
                delay_ms = profile.delays_ms[self._turn % len(profile.delays_ms)]
                self._turn += 1
            else:
                delay_ms = profile.base_latency_ms
            if profile.jitter_ms:
                delay_ms += self._random.expovariate(1 / profile.jitter_ms)
            if profile.cold_start_ms and now - self._last_request > profile.cold_after_idle_s:
                delay_ms += profile.cold_start_ms
            self._last_request = now
            self._busy += 1
            self._loop.call_later(delay_ms / 1000, self._finish, batch)

    def _finish(self, batch: list[_Request]) -> None:
        self._busy -= 1
        self._serve(batch)
        self._schedule()

    def _serve(self, batch: list[_Request]) -> None:
        first_number = self.invocations + 1
        self.invocations += len(batch)
        fail_every = self.profile.fail_every
        outputs = [_NOOP_RESPONSE] * len(batch) if self.model is None else self._predict(batch)
        done = time.perf_counter()
        second = int(time.time())
        for index, request in enumerate(batch):
            response = outputs[index]
            if fail_every and (first_number + index) % fail_every == 0:
                response = _response(self.profile.fail_status, b'{"error":"simulated failure"}')
            status = int(response[9:12])
            if status >= 400 and request.via_runtime:
                response = _runtime_error(status, response[response.index(b"\r\n\r\n") + 4 :])
            request.connection.write(response)
            model_us = max(1, round((done - request.parsed) * 1e6))
            overhead_us = max(1, round((request.parsed - request.arrived) * 1e6))
            self.status_counts[status] += 1
            if status < 400:
                self.sketch.add(model_us / 1000)
            if self.metrics is not None:
                self.metrics.record(second, model_us, overhead_us, status)

    def _predict(self, batch: list[_Request]) -> list[bytes]:
        import numpy as np

        assert self.model is not None
        rows: list[np.ndarray | None] = []
        errors: list[str] = []
        for request in batch:
            try:
                rows.append(parse_rows(request.body, request.content_type))
                errors.append("")
            except BadRequest as bad:
                rows.append(None)
                errors.append(str(bad))
        valid = [r for r in rows if r is not None]
        predictions = self.model.predict(np.concatenate(valid)) if valid else None
        outputs = []
        offset = 0
        for row, error in zip(rows, errors, strict=True):
            if row is None:
                outputs.append(_response(400, json.dumps({"error": error}).encode()))
                continue
            assert predictions is not None
            part = predictions[offset : offset + len(row)]
            offset += len(row)
            body = json.dumps({"predictions": part.round(6).tolist()}, separators=(",", ":"))
            outputs.append(_response(200, body.encode()))
        return outputs


def profile_named(name: str) -> SpeedProfile:
    """`noop`, `fixed:<ms>`, or `model` (the real MLP with no added latency)."""
    if name == "noop":
        return NOOP
    if name == "model":
        return SpeedProfile(name="model", workers=1024)
    if name.startswith("fixed:"):
        return fixed_delay(float(name.removeprefix("fixed:")))
    raise ValueError(f"unknown profile {name!r}: use noop, model or fixed:<ms>")


def main(argv: list[str] | None = None, *, announce: Callable[[str], None] = print) -> int:
    """`python -m infercost.local.model_server --profile noop --port 8080` (benchmarks, demos)."""
    parser = argparse.ArgumentParser(prog="python -m infercost.local.model_server")
    parser.add_argument("--profile", default="model", help="noop, model or fixed:<ms>")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--lifetime", type=float, default=600.0, help="seconds before it stops")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve HTTPS with this certificate")
    args = parser.parse_args(argv)
    server = ModelServer(
        profile_named(args.profile),
        port=args.port,
        max_lifetime_s=args.lifetime,
        tls=tuple(args.tls) if args.tls else None,
    )
    url = server.start()
    announce(url)
    signal.signal(
        signal.SIGTERM,
        lambda *_: server._loop and server._loop.call_soon_threadsafe(server._shutdown),
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
