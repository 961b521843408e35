"""moto extension: SageMaker endpoints that serve, and that fail the way real ones do.

moto creates an endpoint already `InService` with nothing behind it. Patched (three methods of
its SageMaker backend), while a local stack runs:

- CreateEndpoint starts a local model server with the candidate's simulated speed profile
  (`profile_for`) and leaves the endpoint `Creating` for `polls_until_ready` DescribeEndpoint
  calls, so the workflow's wait loop really loops; then it is `InService`.
- DeleteEndpoint stops the server, so a deleted endpoint stops answering.
- CreateEndpointConfig accepts the instance types of the current API (botocore's
  `ProductionVariantInstanceType` enum); moto's own list predates g5, g6, c7g, inf2.
- DeleteEndpoint follows SageMaker's rule: an endpoint still Creating (or updating) cannot be
  deleted until it settles. A deleted endpoint can show `Deleting` for a few looks
  (`LocalRuntime.deleting_looks`) before it is gone, as on AWS.
- Fault points: CreateEndpoint refused (account quota) or throttled once; the endpoint ending
  `Failed` with a FailureReason and container log lines in `/aws/sagemaker/Endpoints/<name>`;
  the endpoint held in `Creating` until `LocalRuntime.settle()` (then `Failed`); DeleteEndpoint
  failing once.
"""

from __future__ import annotations

import contextlib
import functools
import time
from typing import Any

from moto.sagemaker.exceptions import ResourceInUseException, SagemakerClientError, ValidationError

from infercost.domain.workflow import candidate_from_variant
from infercost.local.faults import candidate_index
from infercost.local.runtime import LocalRuntime, active

# The statuses SageMaker refuses DeleteEndpoint in (infercost.data.endpoints.SETTLING_STATUSES).
SETTLING = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})
STUCK_REASON = (
    "The endpoint did not become healthy within the time allowed (injected fault 'stuck-creating')."
)
# What a container that cannot load its model prints, and what SageMaker then reports.
FAILURE_REASON = (
    "The primary container for production variant AllTraffic did not pass the ping health "
    "check. Please check CloudWatch logs for this endpoint."
)
CONTAINER_LOG = (
    "Starting model server (injected fault: this container cannot load its model)",
    "Traceback (most recent call last):",
    '  File "/opt/ml/code/inference.py", line 14, in model_fn',
    '    model = torch.jit.load(os.path.join(model_dir, "model.pt"))',
    "RuntimeError: PytorchStreamReader failed reading zip archive: failed finding central directory",
    "Worker died, exit code 1; ping returns 500",
)
_originals: dict[str, Any] = {}


class ResourceLimitExceeded(SagemakerClientError):
    code = "ResourceLimitExceeded"


class ThrottlingException(SagemakerClientError):
    code = "ThrottlingException"


def _write_container_log(runtime: LocalRuntime, endpoint_name: str) -> None:
    logs = runtime.client("logs")
    group = f"/aws/sagemaker/Endpoints/{endpoint_name}"
    stream = "AllTraffic/i-0a1b2c3d4e5f67890"
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now_ms = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": now_ms + i, "message": line} for i, line in enumerate(CONTAINER_LOG)],
    )


def _create_endpoint(
    self: Any, endpoint_name: str, endpoint_config_name: str, tags: list[dict[str, str]]
) -> Any:
    runtime = active()
    original = _originals["create_endpoint"]
    if runtime is None:
        return original(self, endpoint_name, endpoint_config_name, tags)
    index = candidate_index(endpoint_name)
    if runtime.faults.fires("create-endpoint", index):
        raise ResourceLimitExceeded(
            "The account-level service limit 'ml instances for endpoint usage' is 0 Instances, "
            "with current utilization of 0 Instances and a request delta of 1 Instances "
            "(injected fault 'create-endpoint')."
        )
    if runtime.faults.fires("throttle-create-endpoint", index):
        raise ThrottlingException("Rate exceeded (injected fault 'throttle-create-endpoint')")
    endpoint = original(self, endpoint_name, endpoint_config_name, tags)
    endpoint.endpoint_status = "Creating"
    variants = self.endpoint_configs[endpoint_config_name].production_variants
    if runtime.faults.fires("endpoint-failed", index):
        runtime.failing[endpoint_name] = FAILURE_REASON
        _write_container_log(runtime, endpoint_name)
    elif runtime.faults.fires("stuck-creating", index):
        with runtime._lock:
            runtime.stuck.add(endpoint_name)
        runtime.failing[endpoint_name] = STUCK_REASON
    else:
        artifact = _model_artifact(self, runtime, variants[0].get("ModelName"))
        runtime.start_server(endpoint_name, candidate_from_variant(variants[0]), artifact)
    return endpoint


def _model_artifact(self: Any, runtime: LocalRuntime, model_name: str | None) -> bytes | None:
    """The model.tar.gz the container loads (its ModelDataUrl), as a real container reads it."""
    model = self._models.get(model_name) if model_name else None
    url = str(((model.primary_container if model else None) or {}).get("ModelDataUrl") or "")
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not key:
        return None
    try:
        body: bytes = runtime.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception:  # a container without its artifact fails elsewhere; here it serves the MLP
        return None
    return body


def _look_while_deleting(self: Any, runtime: LocalRuntime | None, endpoint_name: str) -> None:
    """One look at a Deleting endpoint: it is gone once its looks are used up."""
    if runtime is None:
        return
    with runtime._lock:
        looks = runtime.deleting.get(endpoint_name)
        if looks is None:
            return
        if looks <= 0:
            runtime.deleting.pop(endpoint_name)
            self.endpoints.pop(endpoint_name, None)
        else:
            runtime.deleting[endpoint_name] = looks - 1


def _describe_endpoint(self: Any, endpoint_name: str) -> Any:
    runtime = active()
    _look_while_deleting(self, runtime, endpoint_name)
    endpoint = self.endpoints.get(endpoint_name)
    creating = runtime is not None and endpoint is not None and endpoint.endpoint_status == "Creating"
    if creating and runtime is not None and endpoint_name in runtime.stuck:
        creating = False
    if creating and runtime is not None and runtime.note_poll(endpoint_name) > runtime.polls_until_ready:
        reason = runtime.failing.get(endpoint_name)
        if reason is not None:
            endpoint.endpoint_status = "Failed"
            endpoint.failure_reason = reason
        else:
            endpoint.endpoint_status = "InService"
    return _originals["describe_endpoint"](self, endpoint_name)


def _list_endpoints(self: Any, *args: Any, **kwargs: Any) -> Any:
    runtime = active()
    if runtime is not None:
        for name in list(runtime.deleting):
            _look_while_deleting(self, runtime, name)
        _settle_stuck(self, runtime)
    return _originals["list_endpoints"](self, *args, **kwargs)


def _settle_stuck(self: Any, runtime: LocalRuntime) -> None:
    # A held endpoint that `settle()` released ends Failed, as one that never became healthy does.
    for name, reason in list(runtime.failing.items()):
        endpoint = self.endpoints.get(name)
        held = reason == STUCK_REASON and name not in runtime.stuck
        if held and endpoint is not None and endpoint.endpoint_status == "Creating":
            endpoint.endpoint_status = "Failed"
            endpoint.failure_reason = reason


def _delete_endpoint(self: Any, endpoint_name: str) -> None:
    runtime = active()
    if runtime is not None and runtime.faults.fires("teardown-once", candidate_index(endpoint_name)):
        raise ResourceInUseException(
            f"Endpoint {endpoint_name} is being updated and cannot be deleted now "
            "(injected fault 'teardown-once')"
        )
    endpoint = self.endpoints.get(endpoint_name)
    if runtime is not None and endpoint is not None:
        _settle_stuck(self, runtime)
        if endpoint.endpoint_status in SETTLING:
            raise ValidationError(
                message=f"Cannot delete in-progress endpoint {endpoint.arn}: it is "
                f"{endpoint.endpoint_status}; delete it once it is InService or Failed"
            )
        if endpoint.endpoint_status == "Deleting":
            raise ValidationError(message=f"Endpoint {endpoint_name} is already being deleted")
        if runtime.deleting_looks > 0:
            endpoint.endpoint_status = "Deleting"
            with runtime._lock:
                runtime.deleting[endpoint_name] = runtime.deleting_looks
            runtime.stop_server(endpoint_name)
            return
    _originals["delete_endpoint"](self, endpoint_name)
    if runtime is not None:
        runtime.stop_server(endpoint_name)


@functools.cache
def api_instance_types() -> frozenset[str]:
    """The real-time endpoint instance types SageMaker's API accepts (from botocore's model)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return frozenset(model.shape_for("ProductionVariantInstanceType").enum)


def _validate_instance_type(self: Any, instance_type: str) -> None:
    if instance_type not in api_instance_types():
        raise ValidationError(
            message=f"Value '{instance_type}' at 'instanceType' failed to satisfy constraint: "
            "Member must satisfy enum value set of ProductionVariantInstanceType"
        )


def install() -> None:
    """Patch moto's SageMaker backend (idempotent)."""
    from moto.sagemaker.models import FakeEndpointConfig, SageMakerModelBackend

    if "validate_instance_type" not in _originals:
        _originals["validate_instance_type"] = FakeEndpointConfig.validate_instance_type
        FakeEndpointConfig.validate_instance_type = _validate_instance_type  # type: ignore[method-assign]

    patches = {
        "create_endpoint": _create_endpoint,
        "describe_endpoint": _describe_endpoint,
        "delete_endpoint": _delete_endpoint,
        "list_endpoints": _list_endpoints,
    }
    for name, patched in patches.items():
        if name not in _originals:
            _originals[name] = getattr(SageMakerModelBackend, name)
            setattr(SageMakerModelBackend, name, patched)
