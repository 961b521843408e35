"""Which AWS operations each Lambda function calls, recorded while the local stack runs.

moto checks no IAM, so a call that its function's role does not allow works locally and fails
on AWS. The recorder puts a botocore `provide-client-params` hook on every client the handlers
make (`infercost.data.clients.add_hook`); botocore emits that event for API calls and pre-signed URLs
alike. Each call is noted as `(function, IAM action)` for the function whose handler is
running: the Lambda Invoke extension sets it for the handler's context (`running`).

Clients are cached per process and shared between handlers, so the function is a context
variable, not a property of the client. A thread does not inherit it (Python 3.11): a call made
on a thread a handler starts without copying its context is noted under `OUTSIDE`, which the
test refuses. The load generator's InvokeEndpoint requests do not go through botocore (they are
signed and sent on its own event loop, `infercost.measurement.sagemaker`); locally its HTTP
transport to the model servers stands in for them, and the endpoint resolver notes the call
(`LocalRuntime.resolve_endpoint`).

On AWS each function runs in processes of its own; here all share one, so a per-process cache
of AWS answers (the Price List API's) would let one function's call spare another the same
call and hide that the other needs the grant too: while recording, that cache is split by
function (`PerFunction`).

tests/integration/test_calls_against_grants.py compares the record with
`infercost/handler_calls.json` (docs/deploy.md, "Calls against grants").
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from infercost.data import clients as aws

# Where calls made outside every handler's context go.
OUTSIDE = "(outside any function)"
_EVENT = "provide-client-params"
_function: ContextVar[str | None] = ContextVar("infercost_function", default=None)


class PerFunction(MutableMapping[Any, Any]):
    """A per-process cache with one part per running function, as if each had its own process."""

    def __init__(self) -> None:
        self._parts: dict[str | None, dict[Any, Any]] = {}

    def _own(self) -> dict[Any, Any]:
        return self._parts.setdefault(_function.get(), {})

    def __getitem__(self, key: Any) -> Any:
        return self._own()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._own()[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._own()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._own()))

    def __len__(self) -> int:
        return len(self._own())

    def clear(self) -> None:
        self._parts.clear()


class CallRecorder:
    """IAM actions called per function, e.g. {'PrepareFunction': {'s3:GetObject', ...}}."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, set[str]] = {}
        self._price_cache: MutableMapping[Any, Any] | None = None

    def install(self) -> None:
        """Record the calls of the clients `infercost.data.clients` makes or watches; split the price cache."""
        from infercost.data.pricing import live

        aws.add_hook(_EVENT, self._on_call)
        if self._price_cache is None:
            self._price_cache, live._cache = live._cache, PerFunction()

    def uninstall(self) -> None:
        from infercost.data.pricing import live

        aws.remove_hook(_EVENT, self._on_call)
        if self._price_cache is not None:
            live._cache, self._price_cache = self._price_cache, None

    @contextmanager
    def running(self, function: str) -> Iterator[None]:
        """Attribute the calls made in this context to `function` (e.g. 'PrepareFunction')."""
        token = _function.set(function)
        try:
            yield
        finally:
            _function.reset(token)

    def note(self, action: str) -> None:
        """Record that the running function calls `action` (e.g. 'sagemaker:InvokeEndpoint')."""
        function = _function.get() or OUTSIDE
        with self._lock:
            self._calls.setdefault(function, set()).add(action)

    def _on_call(self, model: Any, **_: Any) -> None:
        # Returns None: a provide-client-params handler's answer would replace the call's parameters.
        self.note(aws.iam_action(model.service_model.signing_name, model.name))

    def calls(self) -> dict[str, set[str]]:
        """A copy of what was recorded so far."""
        with self._lock:
            return {function: set(actions) for function, actions in self._calls.items()}
