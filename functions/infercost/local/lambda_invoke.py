"""moto extension: Lambda Invoke runs infercost's Python handler in-process.

moto without Docker echoes the payload. Patched (one method, `LambdaSimpleBackend.invoke`), a
function whose Handler is `infercost.handlers.<module>.handler` runs that handler with the
event, and answers like Lambda: the handler's JSON, or for an exception `FunctionError:
Unhandled` with `{"errorMessage", "errorType", "stackTrace"}` so that a state's Catch sees the
exception's class name as the error, as it does on AWS.
"""

from __future__ import annotations

import importlib
import json
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any

from infercost.handlers import HANDLERS, function_name
from infercost.local import output
from infercost.local.faults import STATE_FAULTS, InjectedFault
from infercost.local.runtime import LocalRuntime, active

HANDLER_PACKAGE = "infercost.handlers."
_STATE_OF_MODULE = {module: state for state, module in HANDLERS.items()}
_original: Any = None


@dataclass
class LocalLambdaContext:
    """The parts of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_s: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


def _inject_fault(runtime: LocalRuntime, module: str, event: Any) -> None:
    point = STATE_FAULTS.get(_STATE_OF_MODULE.get(module, ""))
    if point is None:
        return
    index = None
    if isinstance(event, dict) and isinstance(event.get("candidate"), dict):
        index = event["candidate"].get("index")
    fired = runtime.faults.fires(point, index) if index is not None else runtime.faults.fires_for_run(point)
    if fired:
        raise InjectedFault(f"injected fault '{point}': {_STATE_OF_MODULE[module]} raised on purpose")


def error_payload(error: BaseException, request_id: str) -> dict[str, Any]:
    """What Lambda's Python runtime returns for an unhandled exception."""
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(traceback.extract_tb(error.__traceback__)),
    }


def invoke_handler(runtime: LocalRuntime, fn: Any, body: Any, response_headers: dict[str, Any]) -> bytes:
    """Run the function's handler on `body`; the response payload, errors marked as Lambda does."""
    module_path, _, attribute = fn.handler.rpartition(".")
    module = module_path.removeprefix(HANDLER_PACKAGE)
    event = json.loads(body) if body else {}
    context = LocalLambdaContext(
        function_name=fn.function_name,
        memory_limit_in_mb=int(fn.memory_size or 128),
        invoked_function_arn=fn.function_arn,
        timeout_s=float(fn.timeout or 3),
    )
    # What the CDK stack names the function: 'PrepareFunction', 'JanitorFunction'.
    function = function_name(_STATE_OF_MODULE.get(module, module))
    proxy = output.install()
    try:
        with proxy.capture() as captured, runtime.calls.running(function):
            try:
                _inject_fault(runtime, module, event)
                handler = getattr(importlib.import_module(module_path), attribute)
                payload = json.dumps(handler(event, context))
            except Exception as error:
                response_headers["x-amz-function-error"] = "Unhandled"
                payload = json.dumps(error_payload(error, context.aws_request_id))
    finally:
        output.uninstall()
    output.publish(
        runtime.client("logs"),
        runtime.client("cloudwatch"),
        fn.function_name,
        context.aws_request_id,
        captured.getvalue(),
    )
    return payload.encode("utf-8")


def _invoke(
    self: Any,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> Any:
    runtime = active()
    fn = self.get_function(function_name, qualifier)
    if runtime is None or not str(fn.handler).startswith(HANDLER_PACKAGE):
        return _original(self, function_name, qualifier, body, headers, response_headers)
    return invoke_handler(runtime, fn, body, response_headers)


def install() -> None:
    """Patch moto's Docker-less Lambda backend (idempotent)."""
    global _original
    from moto.awslambda_simple.models import LambdaSimpleBackend

    if _original is None:
        _original = LambdaSimpleBackend.invoke
        LambdaSimpleBackend.invoke = _invoke  # type: ignore[method-assign]
