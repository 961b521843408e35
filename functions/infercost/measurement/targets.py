"""How an endpoint name is reached: signed InvokeEndpoint, at a registered local URL (the embedded
stack) or at the SageMaker runtime."""

from __future__ import annotations

from collections.abc import Callable

from infercost.measurement.sagemaker import sagemaker_transport
from infercost.measurement.transport import Transport

_RESOLVERS: list[Callable[[str], str | None]] = []


def register_endpoint_resolver(resolver: Callable[[str], str | None]) -> None:
    """Let `endpoint_transport` reach an endpoint by URL (the local runtime maps names)."""
    _RESOLVERS.append(resolver)


def clear_endpoint_resolvers() -> None:
    _RESOLVERS.clear()


def endpoint_url_of(endpoint_name: str) -> str | None:
    """The URL a registered resolver gives for `endpoint_name` (the local stack), else None."""
    for resolver in reversed(_RESOLVERS):
        url = resolver(endpoint_name)
        if url:
            return url
    return None


def endpoint_transport(endpoint_name: str, content_type: str, *, timeout_s: float = 60.0) -> Transport:
    """Signed InvokeEndpoint at the SageMaker runtime the standard settings name — or, when a
    registered resolver knows the endpoint (the local stack), at the URL of its model server,
    which answers the runtime's `POST /endpoints/{name}/invocations`: the local stack drives the
    same transport as AWS, minus TLS."""
    for resolver in reversed(_RESOLVERS):
        url = resolver(endpoint_name)
        if url:
            return sagemaker_transport(endpoint_name, content_type, timeout_s=timeout_s, endpoint_url=url)
    return sagemaker_transport(endpoint_name, content_type, timeout_s=timeout_s)
