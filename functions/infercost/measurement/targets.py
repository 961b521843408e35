"""Which transport reaches an endpoint: a registered local URL (the embedded stack), else SageMaker."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass
from infercost.measurement.http import http_transport
from infercost.measurement.sagemaker import sagemaker_transport
from infercost.measurement.transport import Transport

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
