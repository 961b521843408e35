"""The SageMaker runtime's InvokeEndpoint and InvokeEndpointWithResponseStream as a load transport:
SigV4-signed HTTP/1.1 on the HTTP transport's event loop, keep-alive TLS connections pooled to the
concurrency, one callback per response.

It replaced boto3's `invoke_endpoint` in threads, which measured the client more than the model
(docs/benchmarks.md §1: 5–7 % of wrk at concurrency 8 and 32, 1.5 ms of client overhead at p50).
botocore still does what it does well, once per level and never per request: the credential
chain (refreshed as they near expiry), the region, and the endpoint URL with the standard
settings (`AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`, `AWS_ENDPOINT_URL`, the profile's
`endpoint_url`), the CA bundle (`AWS_CA_BUNDLE`), and the event-stream parser.
"""

from __future__ import annotations

import hashlib
import json
import os
import ssl as ssl_module
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from infercost.domain.errors import InputError
from infercost.measurement.http import HttpTransport
from infercost.measurement.results import LoadTestError
from infercost.measurement.signing import Credentials, SigV4Signer

# InvokeEndpoint's largest request body (the service model's limit for `Body`: 6 MB).
MAX_PAYLOAD_BYTES = 6_291_456
SIGNING_NAME = "sagemaker"
# Re-sign the request this often: a signature is accepted for five minutes; each new one also
# picks up credentials botocore has refreshed.
RESIGN_EVERY_S = 1.0

_THROTTLE_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})
# Errors that mean the caller's credentials, not the endpoint: the run cannot go on without new ones.
CREDENTIAL_CODES = frozenset(
    {
        "ExpiredTokenException",
        "ExpiredToken",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "InvalidClientTokenId",
        "AccessDeniedException",
        "SignatureDoesNotMatch",
    }
)


def classify_error(status: int, code: str, message: str, original_status: int | None) -> tuple[str, str]:
    """Map a SageMaker runtime error to (error kind, one-line message)."""
    kind, text = _classify(status, code or f"HTTP {status}", message, original_status)
    return kind, text.rstrip(": ")


def _classify(status: int, code: str, message: str, original_status: int | None) -> tuple[str, str]:
    if code == "ModelNotReadyException":
        # 429, but not a rate limit: a serverless variant still provisioning, a model still loading.
        return "http_5xx", f"{code}: {message}"
    if code in _THROTTLE_CODES or status == 429:
        return "throttled", f"{code}: {message}"
    if code == "ModelError":
        # The container answered with an error; OriginalStatusCode is what it returned.
        original = original_status or 500
        kind = "http_4xx" if 400 <= original < 500 else "http_5xx"
        return kind, f"model returned HTTP {original}: {message}"
    if status == 413:
        return "http_4xx", (
            f"{code}: the request body is too large (InvokeEndpoint takes at most "
            f"{MAX_PAYLOAD_BYTES:,} bytes){': ' + message if message else ''}"
        )
    if code in ("ServiceUnavailable", "InternalFailure", "InternalDependencyException") or status >= 500:
        return "http_5xx", f"{code}: {message}"
    return "http_4xx", f"{code}: {message}"


def parse_error(status: int, error_type: str, body: bytes) -> tuple[str, str, int | None]:
    """(code, message, the model's original status) from a rest-json error response."""
    document: dict[str, Any] = {}
    try:
        parsed = json.loads(body) if body else {}
        document = parsed if isinstance(parsed, dict) else {}
    except ValueError:
        pass
    code = error_type.split(":", 1)[0] or str(document.get("__type") or document.get("code") or "")
    code = code.rsplit("#", 1)[-1]
    message = str(document.get("Message") or document.get("message") or "")
    if not message and body and not document:
        message = body[:200].decode(errors="replace")
    original = document.get("OriginalStatusCode")
    return code, " ".join(message.split()), int(original) if isinstance(original, int) else None


class SageMakerTransport(HttpTransport):
    """POST /endpoints/{name}/invocations[-response-stream], signed, on pooled keep-alive TLS."""

    def __init__(
        self,
        endpoint_name: str,
        content_type: str,
        *,
        timeout_s: float = 60.0,
        stream: bool = False,
        session: Any = None,
        endpoint_url: str | None = None,
    ) -> None:
        self.endpoint_name = endpoint_name
        self.stream = stream
        self.streaming = stream
        self.endpoint_url = endpoint_url
        self._session_given = session is not None
        resolved, region, self._credentials, ca_bundle = _resolve(session)
        endpoint_url = endpoint_url or resolved
        parts = urlsplit(endpoint_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(
                f"the SageMaker runtime endpoint URL {endpoint_url!r} is not an http(s) URL",
                field="AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
            )
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        super().__init__(f"http://{parts.hostname}:{port}", content_type, timeout_s=timeout_s)
        operation = "invocations-response-stream" if stream else "invocations"
        self.path = f"{parts.path.rstrip('/')}/endpoints/{quote(endpoint_name, safe='')}/{operation}"
        # The Host header (and the signed host) leave out the scheme's default port, as botocore does.
        self.host_header = parts.hostname if port == (443 if secure else 80) else f"{parts.hostname}:{port}"
        self.description = f"SageMaker endpoint {endpoint_name}"
        self.ssl = ssl_module.create_default_context(cafile=ca_bundle) if secure else None
        self._signer = SigV4Signer(region, SIGNING_NAME)
        self._payload = b""
        self._payload_sha256 = ""
        self._signed_at = 0.0

    def __getstate__(self) -> dict[str, Any]:
        if self._session_given:
            raise TypeError(
                "a SageMaker transport built around a given session cannot move to another process"
            )
        return {
            "endpoint_name": self.endpoint_name,
            "content_type": self.content_type,
            "timeout_s": self.timeout_s,
            "stream": self.stream,
            "endpoint_url": self.endpoint_url,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["endpoint_name"],
            state["content_type"],
            timeout_s=state["timeout_s"],
            stream=state["stream"],
            endpoint_url=state["endpoint_url"],
        )

    # -- requests
    def _build_request(self, payload: bytes) -> bytes:
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise InputError(
                f"the payload is {len(payload):,} bytes; InvokeEndpoint takes at most {MAX_PAYLOAD_BYTES:,}",
                field="payload",
                hint="send a smaller request, or use asynchronous inference or batch transform for large inputs",
            )
        self._payload = payload
        self._payload_sha256 = hashlib.sha256(payload).hexdigest()
        return self._signed(time.time())

    def _signed(self, now: float) -> bytes:
        frozen = self._credentials.get_frozen_credentials()
        credentials = Credentials(frozen.access_key, frozen.secret_key, frozen.token)
        headers = {"Content-Type": self.content_type}
        if self.stream:
            headers["X-Amzn-SageMaker-Accept"] = "*/*"
        added = self._signer.sign(
            "POST",
            self.host_header,
            self.path,
            headers,
            self._payload_sha256,
            credentials,
            datetime.fromtimestamp(now, UTC),
        )
        self._signed_at = now
        lines = [
            f"POST {self.path} HTTP/1.1",
            f"Host: {self.host_header}",
            *(f"{name}: {value}" for name, value in {**headers, **added}.items()),
            f"Content-Length: {len(self._payload)}",
            "User-Agent: infercost-loadgen",
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self._payload

    def refresh(self) -> None:
        now = time.time()
        if now - self._signed_at >= RESIGN_EVERY_S and self._payload_sha256:
            try:
                self.request = self._signed(now)
            except Exception:  # a failed credential refresh: the old signature holds for 5 minutes
                self._signed_at = now

    # -- responses
    def classify(self, status: int, error_type: str, body: bytes) -> tuple[str, str]:
        return classify_error(status, *parse_error(status, error_type, body))


def _resolve(session: Any) -> tuple[str, str, Any, str | None]:
    """(endpoint URL, region, credentials, CA bundle) from botocore's standard chain."""
    import botocore.session
    from botocore.exceptions import BotoCoreError, NoRegionError

    session = session or botocore.session.get_session()
    # botocore reads AWS_DEFAULT_REGION and the profile; the other SDKs (and Lambda) also set AWS_REGION.
    region_name = session.get_config_variable("region") or os.environ.get("AWS_REGION") or None
    try:
        client = session.create_client("sagemaker-runtime", region_name=region_name)
    except NoRegionError as error:
        raise LoadTestError(
            "no AWS region is set for the SageMaker runtime",
            hint="set AWS_REGION or AWS_DEFAULT_REGION, or region in the profile",
        ) from error
    except BotoCoreError as error:
        raise LoadTestError(f"cannot set up the SageMaker runtime client: {error}") from error
    credentials = session.get_credentials()
    if credentials is None:
        raise LoadTestError(
            "no AWS credentials found for InvokeEndpoint",
            hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with a role",
        )
    ca_bundle = session.get_config_variable("ca_bundle")
    if not ca_bundle:
        from botocore.httpsession import get_cert_path

        ca_bundle = get_cert_path(True)
    endpoint_url: str = client.meta.endpoint_url
    region: str = client.meta.region_name
    client.close()
    return endpoint_url, region, credentials, ca_bundle


# InvokeEndpoint (or, with `stream`, InvokeEndpointWithResponseStream) on the async engine;
# `endpoint_url` overrides the runtime's URL the standard settings give.
sagemaker_transport = SageMakerTransport
