"""The SageMaker runtime's InvokeEndpoint as a load transport (boto3 in threads, retries off)."""

from __future__ import annotations

import contextvars
import threading
import time
from typing import TYPE_CHECKING, Any

from infercost.data import clients as aws

if TYPE_CHECKING:
    pass
from infercost.measurement.results import ProgressTick, RawLevel

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
