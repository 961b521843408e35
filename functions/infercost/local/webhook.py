"""A local stand-in for Slack's incoming webhook: records what is posted to it.

Binds 127.0.0.1 on a free port, answers 200 to every POST, keeps the JSON bodies, and stops with
its context (or after `max_lifetime_s`, whichever comes first), leaving no thread or port behind.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookReceiver:
    """`start()` returns the URL to post to; `messages` are the bodies received, in order."""

    def __init__(self, *, max_lifetime_s: float = 3600.0) -> None:
        self.max_lifetime_s = max_lifetime_s
        self.messages: list[Any] = []
        self.url = ""
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    message: Any = json.loads(body)
                except json.JSONDecodeError:
                    message = body.decode("utf-8", "replace")
                with receiver._lock:
                    receiver.messages.append(message)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="infercost-webhook", daemon=True
        )
        self._thread.start()
        self._timer = threading.Timer(self.max_lifetime_s, self.stop)
        self._timer.daemon = True
        self._timer.start()
        self.url = f"http://127.0.0.1:{port}/services/local/webhook"
        return self.url

    def stop(self) -> None:
        server, thread, timer = self._server, self._thread, self._timer
        self._server = self._thread = self._timer = None
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    def received(self) -> list[Any]:
        with self._lock:
            return list(self.messages)

    def __enter__(self) -> WebhookReceiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
