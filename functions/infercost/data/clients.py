"""boto3 clients for the handlers: created at first use, reused across warm invocations.

The cache is keyed by region and endpoint URL so that the local stack (which points
`AWS_ENDPOINT_URL` at its moto server) never receives a client made for another endpoint.

Every client turns an AccessDenied answer into `PermissionDenied`, which names the IAM action:
no code path can mistake a missing grant for a missing resource or skip it quietly
(docs/deploy.md, "Calls against grants").
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from infercost.domain.errors import InfercostError

_lock = threading.Lock()
_clients: dict[tuple[str, str | None, str | None], Any] = {}
# botocore event handlers put on every client the handlers make: none on AWS; the local stack
# records each function's calls with one (docs/deploy.md, "Calls against grants").
_hooks: list[tuple[str, Callable[..., Any]]] = []

# Throttling and transient errors are retried with backoff by botocore's standard mode: every
# client infercost makes retries this way (5 attempts in all, the first call included).
RETRIES = {"mode": "standard", "total_max_attempts": 5}

ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
# The IAM service prefix where it differs from the API's signing name.
_IAM_PREFIX = {"monitoring": "cloudwatch", "execute-api": "execute-api"}
# API operations whose IAM action has another name (service authorization reference).
_IAM_ACTION = {
    ("s3", "HeadObject"): "GetObject",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "GetObjectAttributes"): "GetObject",
}


class PermissionDenied(InfercostError):
    """AWS refused a call for want of a grant: the function's role lacks the named IAM action."""


def iam_action(signing_name: str, operation: str) -> str:
    """The IAM action an API call needs: ('sagemaker', 'DescribeEndpoint') -> 'sagemaker:DescribeEndpoint'."""
    prefix = _IAM_PREFIX.get(signing_name, signing_name)
    return f"{prefix}:{_IAM_ACTION.get((prefix, operation), operation)}"


def _refuse_denied(signing_name: str) -> Any:
    def check(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        error = parsed.get("Error") or {}
        if error.get("Code") in ACCESS_DENIED_CODES:
            action = iam_action(signing_name, model.name)
            raise PermissionDenied(
                f"AWS refused {action}: {error.get('Message') or error.get('Code')}",
                field=action,
                hint="grant it to this function's role (infra/constructs/permissions.py)",
            )

    return check


def guard(client: Any) -> Any:
    """Make `client` raise PermissionDenied for AccessDenied answers (idempotent)."""
    if not getattr(client, "_infercost_guarded", False):
        signing_name = client.meta.service_model.signing_name
        client.meta.events.register("after-call.*.*", _refuse_denied(signing_name))
        client._infercost_guarded = True
    return client


def _hook_id(handler: Callable[..., Any]) -> str:
    # A unique id makes registering the same handler twice a no-op; a bound method hashes
    # alike each time it is looked up.
    return f"infercost-hook-{hash(handler)}"


def add_hook(event_name: str, handler: Callable[..., Any]) -> None:
    """Register `handler` for botocore's `event_name` on every client of `client` and `watched`,
    the cached ones included."""
    with _lock:
        _hooks.append((event_name, handler))
        for found in _clients.values():
            found.meta.events.register(event_name, handler, unique_id=_hook_id(handler))


def remove_hook(event_name: str, handler: Callable[..., Any]) -> None:
    """Undo `add_hook` on the cached clients (a client given to `watched` keeps the handler)."""
    with _lock:
        if (event_name, handler) in _hooks:
            _hooks.remove((event_name, handler))
        for found in _clients.values():
            found.meta.events.unregister(event_name, unique_id=_hook_id(handler))


def watched(client: Any) -> Any:
    """Put the hooks of `add_hook` on a client made outside `client` (idempotent)."""
    for event_name, handler in list(_hooks):
        client.meta.events.register(event_name, handler, unique_id=_hook_id(handler))
    return client


def new_client(service: str, *, region: str | None = None, endpoint_url: str | None = None) -> Any:
    """A new boto3 client with infercost's retries that names the IAM action of an AccessDenied
    (the CLI's, with its --region and --endpoint-url; `client` caches these for the handlers)."""
    import boto3
    from botocore.config import Config

    # A session per client: the default session is not safe to share between threads.
    session = boto3.session.Session()
    made = session.client(
        service, region_name=region, endpoint_url=endpoint_url, config=Config(retries=RETRIES)
    )
    return watched(guard(made))


def client(service: str, *, region: str | None = None) -> Any:
    """The function's cached client for `service` in `region` (default: the function's)."""
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    endpoint_url = os.environ.get("AWS_ENDPOINT_URL")
    key = (service, region, endpoint_url)
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = new_client(service, region=region)
            _clients[key] = found
        return found


def clear_clients() -> None:
    """Drop every cached client (the local stack does this when it starts and stops)."""
    with _lock:
        _clients.clear()
