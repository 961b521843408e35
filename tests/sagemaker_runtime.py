"""A stand-in for the SageMaker runtime on 127.0.0.1, for the InvokeEndpoint transport's tests.

It checks every request's SigV4 signature by recomputing it with botocore's own signer from what
arrived on the wire, and answers the way the service does — by endpoint name, so that one server
plays every case:

- `ok-*`: 200 with a small JSON body; `slow-*`: answers after 2 s.
- `missing`: 400 ValidationError ("Endpoint missing of account … not found.").
- `throttled`: 400 ThrottlingException. `not-ready`: 429 ModelNotReadyException.
- `model-400` / `model-500`: 424 ModelError with OriginalStatusCode.
- `unavailable`: 503 ServiceUnavailable. Bodies over 6 MB: 413, as the service's front door.
- `reset`: sends the head and part of the body, then closes the connection.
- streaming (`/invocations-response-stream`): `stream-*` sends three PayloadPart events 20 ms apart
  (the second carries two parts' worth); `stream-cut` stops mid-event; `stream-error` sends one
  part, then a ModelStreamError exception event.
A session token `expired` is answered 403 ExpiredTokenException; a bad signature 403
InvalidSignatureException.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

# One encoder of AWS event-stream messages: the local text model's.
from infercost.local.text_model import event_message

SECRET = "standin-secret"
MAX_BODY = 6_291_456
PARTS = [b'{"token": "a"}', b'{"token": "b"}{"token": "c"}', b'{"token": "d"}']


def payload_part(data: bytes) -> bytes:
    return event_message({":message-type": "event", ":event-type": "PayloadPart"}, data)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StandIn

    def log_message(self, *_: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Parts leave when written, as the service sends them (no Nagle delay on small writes).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.requests += 1
        parts = self.path.split("/")  # ['', 'endpoints', name, operation]
        if len(parts) != 4 or parts[1] != "endpoints":
            return self._error(404, "UnknownOperationException", "no such operation")
        name, operation = parts[2], parts[3]
        if length > MAX_BODY:
            return self._raw(413, b"<html>Request Entity Too Large</html>", "text/html")
        denied = self._check_signature(body)
        if denied:
            return self._error(403, *denied)
        if operation == "invocations-response-stream":
            return self._stream(name)
        if name == "missing":
            return self._error(400, "ValidationError", f"Endpoint {name} of account 123456789012 not found.")
        if name == "throttled":
            return self._error(400, "ThrottlingException", "Rate exceeded")
        if name == "not-ready":
            return self._error(429, "ModelNotReadyException", "Model is still loading")
        if name.startswith("model-"):
            original = int(name.split("-")[1])
            return self._error(
                424,
                "ModelError",
                f'Received client error ({original}) from primary with message "bad rows".',
                OriginalStatusCode=original,
            )
        if name == "unavailable":
            return self._error(503, "ServiceUnavailable", "try later")
        if name == "reset":
            self.wfile.write(
                b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"pre'
            )
            self.wfile.flush()
            self.close_connection = True
            return None
        if name.startswith("slow-"):
            time.sleep(2.0)
        return self._raw(200, b'{"predictions": [[0.1, 0.9]]}', "application/json")

    def _check_signature(self, body: bytes) -> tuple[str, str] | None:
        token = self.headers.get("X-Amz-Security-Token")
        if token == "expired":
            return "ExpiredTokenException", "The security token included in the request is expired"
        header = self.headers.get("Authorization", "")
        if not header.startswith("AWS4-HMAC-SHA256 Credential="):
            return "MissingAuthenticationToken", "Missing Authentication Token"
        signed = header.split("SignedHeaders=")[1].split(",")[0].split(";")
        access_key = header.split("Credential=")[1].split("/")[0]
        region = header.split("Credential=")[1].split("/")[2]
        request = AWSRequest(
            method="POST",
            url=f"https://{self.headers['Host']}{self.path}",
            data=body,
            headers={name: self.headers[name] for name in signed if name != "host"},
        )
        signer = SigV4Auth(Credentials(access_key, SECRET, token), "sagemaker", region)
        request.context["timestamp"] = self.headers["X-Amz-Date"]
        expected = signer.signature(
            signer.string_to_sign(request, signer.canonical_request(request)), request
        )
        if not header.endswith(f"Signature={expected}"):
            self.server.bad_signatures += 1
            return "InvalidSignatureException", "The request signature we calculated does not match"
        return None

    def _stream(self, name: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        messages = [payload_part(part) for part in PARTS]
        if name == "stream-error":
            messages = [
                messages[0],
                event_message(
                    {":message-type": "exception", ":exception-type": "ModelStreamError"},
                    json.dumps(
                        {"Message": "model crashed mid-stream", "ErrorCode": "ModelInvocationTimeExceeded"}
                    ).encode(),
                ),
            ]
        elif name == "stream-cut":
            messages = [messages[0], messages[1][:20]]
        for message in messages:
            self.wfile.write(f"{len(message):x}\r\n".encode() + message + b"\r\n")
            self.wfile.flush()
            time.sleep(0.02)
        self.wfile.write(b"0\r\n\r\n")

    def _error(self, status: int, code: str, message: str, **fields: object) -> None:
        document = (
            json.dumps({"message": message, **fields}).encode()
            if code != "ModelError"
            else json.dumps({"Message": message, "ErrorCode": "CLIENT_ERROR_FROM_MODEL", **fields}).encode()
        )
        self._raw(
            status, document, "application/json", {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/"}
        )

    def _raw(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class StandIn(ThreadingHTTPServer):
    daemon_threads = True
    requests = 0
    bad_signatures = 0


@contextmanager
def sagemaker_runtime(tls: tuple[Path, Path] | None = None) -> Iterator[StandIn]:
    """The stand-in on a free loopback port; `server.url` is its base URL (https with `tls`, a
    (certificate, key) pair). Stops by itself."""
    server = StandIn(("127.0.0.1", 0), _Handler)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    server.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
