"""boto3 clients for the handlers: created at first use, reused across warm invocations.

The cache is keyed by region and endpoint URL so that the local stack (which points
`AWS_ENDPOINT_URL` at its moto server) never receives a client made for another endpoint.
"""

from __future__ import annotations

import os
import threading
from typing import Any

_lock = threading.Lock()
_clients: dict[tuple[str, str | None, str | None], Any] = {}

# Throttling and transient errors are retried with backoff by botocore's standard mode.
_RETRIES = {"mode": "standard", "max_attempts": 5}


def client(service: str, *, region: str | None = None) -> Any:
    """A boto3 client for `service` in `region` (default: the function's), with standard retries."""
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    endpoint_url = os.environ.get("AWS_ENDPOINT_URL")
    key = (service, region, endpoint_url)
    with _lock:
        found = _clients.get(key)
        if found is None:
            import boto3
            from botocore.config import Config

            # A session per client: the default session is not safe to share between threads.
            session = boto3.session.Session()
            found = session.client(service, region_name=region, config=Config(retries=_RETRIES))
            _clients[key] = found
        return found


def clear_clients() -> None:
    """Drop every cached client (the local stack does this when it starts and stops)."""
    with _lock:
        _clients.clear()
