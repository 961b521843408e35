"""SageMaker endpoints the workflow creates: diagnose, delete, find, and check quotas.

Every function takes its boto3 client(s) as arguments. A model, its endpoint config and its
endpoint share one name (docs/architecture.md, "SageMaker resources").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from infercost.domain.workflow import MANAGED_TAG, RUN_ID_TAG

ResourceKind = Literal["endpoint", "endpoint-config", "model"]
# Statuses in which an endpoint holds (and bills) instances.
LIVE_STATUSES = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "InService"})
# Statuses SageMaker refuses DeleteEndpoint in: they must settle (InService, Failed) first. An
# endpoint can stay Creating for up to an hour before it fails (docs/deploy.md).
SETTLING_STATUSES = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})
# An endpoint being deleted is gone for infercost's purposes: deleting it again is refused.
GOING_STATUS = "Deleting"
SETTLE_POLL_S = 15.0
LOG_TAIL_LINES = 20
# Listing is bounded so that a huge account cannot make a Lambda run out of time.
MAX_LIST_PAGES = 20
PAGE_SIZE = 100


def log_group_for(endpoint_name: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


def is_not_found(error: ClientError) -> bool:
    """SageMaker reports a missing resource as ValidationException 'Could not find ...'."""
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "")
    return code in ("ResourceNotFound", "ResourceNotFoundException") or (
        code == "ValidationException" and "could not find" in message.lower()
    )


def error_text(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return f"{details.get('Code', 'Error')}: {details.get('Message', '')}".strip()


@dataclass(frozen=True)
class EndpointState:
    """What DescribeEndpoint says, plus the last lines of the container log."""

    name: str
    exists: bool
    status: str | None = None
    failure_reason: str | None = None
    created_at: datetime | None = None
    log_tail: list[str] = field(default_factory=list)


def describe_endpoint(
    sagemaker: Any, logs: Any | None, name: str, *, with_logs: bool = False
) -> EndpointState:
    """The endpoint's status and FailureReason; with_logs adds its container log tail."""
    try:
        described = sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as error:
        if is_not_found(error):
            return EndpointState(name=name, exists=False)
        raise
    tail = container_log_tail(logs, name) if with_logs and logs is not None else []
    return EndpointState(
        name=name,
        exists=True,
        status=described.get("EndpointStatus"),
        failure_reason=described.get("FailureReason"),
        created_at=described.get("CreationTime"),
        log_tail=tail,
    )


def container_log_tail(logs: Any, endpoint_name: str, *, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last `lines` messages of the endpoint's container logs, oldest first; [] if none."""
    group = log_group_for(endpoint_name)
    try:
        streams = logs.describe_log_streams(
            logGroupName=group, orderBy="LastEventTime", descending=True, limit=5
        ).get("logStreams", [])
        messages: list[tuple[int, str]] = []
        for stream in streams:
            events = logs.get_log_events(
                logGroupName=group,
                logStreamName=stream["logStreamName"],
                limit=lines,
                startFromHead=False,
            ).get("events", [])
            messages.extend((e.get("timestamp", 0), str(e.get("message", ""))) for e in events)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code", "") == "ResourceNotFoundException":
            return []
        raise
    messages.sort(key=lambda pair: pair[0])
    return [message.rstrip() for _, message in messages[-lines:]]


@dataclass(frozen=True)
class EndpointRelease:
    """What deleting an endpoint achieved: deleted now, already gone (or going), or not yet
    deletable because it did not settle within the wait (the janitor deletes it later)."""

    outcome: Literal["deleted", "gone", "unsettled"]
    before: EndpointState
    last_status: str | None = None

    @property
    def released(self) -> bool:
        return self.outcome != "unsettled"


def release_endpoint(
    sagemaker: Any,
    logs: Any | None,
    name: str,
    *,
    wait_s: float,
    with_logs: bool = False,
    poll_s: float = SETTLE_POLL_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> EndpointRelease:
    """Delete the endpoint, waiting up to `wait_s` for one still Creating (or updating) to settle.

    `Deleting` and NotFound count as gone. Any other refusal raises (the caller retries).
    """
    before = describe_endpoint(sagemaker, logs, name, with_logs=with_logs)
    status = before.status if before.exists else None
    deadline = clock() + wait_s
    while status in SETTLING_STATUSES:
        if clock() + poll_s > deadline:
            return EndpointRelease("unsettled", before, status)
        sleep(poll_s)
        now = describe_endpoint(sagemaker, None, name)
        status = now.status if now.exists else None
    if status is None or status == GOING_STATUS:
        return EndpointRelease("gone", before, status)
    try:
        sagemaker.delete_endpoint(EndpointName=name)
    except ClientError as error:
        if is_not_found(error):
            return EndpointRelease("gone", before, None)
        raise
    return EndpointRelease("deleted", before, status)


@dataclass(frozen=True)
class TeardownOutcome:
    """What deleting one candidate's resources achieved."""

    name: str
    deleted: list[ResourceKind]
    already_gone: list[ResourceKind]
    failures: dict[ResourceKind, str]

    @property
    def complete(self) -> bool:
        return not self.failures


def delete_config_and_model(sagemaker: Any, name: str) -> TeardownOutcome:
    """Delete the endpoint config, then the model, once the endpoint is gone or going.

    NotFound counts as deleted, so it is safe to repeat. (SageMaker warns that deleting a live
    endpoint's config loses sight of its instance type: `release_endpoint` comes first.)
    """
    deleted: list[ResourceKind] = []
    gone: list[ResourceKind] = []
    failures: dict[ResourceKind, str] = {}
    steps: list[tuple[ResourceKind, Any, dict[str, str]]] = [
        ("endpoint-config", sagemaker.delete_endpoint_config, {"EndpointConfigName": name}),
        ("model", sagemaker.delete_model, {"ModelName": name}),
    ]
    for kind, delete, arguments in steps:
        try:
            delete(**arguments)
            deleted.append(kind)
        except ClientError as error:
            if is_not_found(error):
                gone.append(kind)
                continue
            failures[kind] = error_text(error)
    return TeardownOutcome(name=name, deleted=deleted, already_gone=gone, failures=failures)


@dataclass(frozen=True)
class ManagedResource:
    """A SageMaker resource carrying the `infercost:managed` tag."""

    kind: ResourceKind
    name: str
    arn: str
    run_id: str | None
    created_at: datetime | None
    status: str | None = None


_LISTERS: dict[ResourceKind, tuple[str, str, str, str]] = {
    # kind: (operation, result key, name field, arn field)
    "endpoint": ("list_endpoints", "Endpoints", "EndpointName", "EndpointArn"),
    "endpoint-config": (
        "list_endpoint_configs",
        "EndpointConfigs",
        "EndpointConfigName",
        "EndpointConfigArn",
    ),
    "model": ("list_models", "Models", "ModelName", "ModelArn"),
}


def _pages(client: Any, operation: str, result_key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item of a listing, through botocore's paginator, at most MAX_LIST_PAGES pages of 100."""
    paginator = client.get_paginator(operation)
    config = {"PageSize": PAGE_SIZE, "MaxItems": PAGE_SIZE * MAX_LIST_PAGES}
    for page in paginator.paginate(**kwargs, PaginationConfig=config):
        yield from page.get(result_key, [])


def _tags(sagemaker: Any, arn: str) -> dict[str, str]:
    try:
        tags = sagemaker.list_tags(ResourceArn=arn, MaxResults=100).get("Tags", [])
    except ClientError as error:
        if is_not_found(error):
            return {}
        raise
    return {tag["Key"]: tag["Value"] for tag in tags}


def find_managed(
    sagemaker: Any,
    prefix: str,
    *,
    run_id: str | None = None,
    kinds: Iterable[ResourceKind] = ("endpoint", "endpoint-config", "model"),
) -> list[ManagedResource]:
    """Resources named '<prefix>-…' (and '<prefix>-<run_id>-…' when given) tagged as ours."""
    name_start = f"{prefix}-{run_id}-" if run_id else f"{prefix}-"
    found: list[ManagedResource] = []
    for kind in kinds:
        operation, key, name_field, arn_field = _LISTERS[kind]
        for summary in _pages(sagemaker, operation, key, NameContains=name_start):
            name = str(summary.get(name_field, ""))
            if not name.startswith(name_start):
                continue
            tags = _tags(sagemaker, summary[arn_field])
            if tags.get(MANAGED_TAG) != "true":
                continue
            tagged_run = tags.get(RUN_ID_TAG)
            if run_id is not None and tagged_run != run_id:
                continue
            found.append(
                ManagedResource(
                    kind=kind,
                    name=name,
                    arn=summary[arn_field],
                    run_id=tagged_run,
                    created_at=summary.get("CreationTime"),
                    status=summary.get("EndpointStatus"),
                )
            )
    return found


def delete_resource(sagemaker: Any, resource: ManagedResource) -> str | None:
    """Delete one resource; None when it is gone (or was already), else the error text."""
    operations = {
        "endpoint": ("delete_endpoint", "EndpointName"),
        "endpoint-config": ("delete_endpoint_config", "EndpointConfigName"),
        "model": ("delete_model", "ModelName"),
    }
    operation, argument = operations[resource.kind]
    try:
        getattr(sagemaker, operation)(**{argument: resource.name})
    except ClientError as error:
        return None if is_not_found(error) else error_text(error)
    return None


# --- quotas ---------------------------------------------------------------------------------


def endpoint_quota_name(instance_type: str) -> str:
    """The Service Quotas name of an instance type's real-time endpoint quota."""
    return f"{instance_type} for endpoint usage"


def endpoint_quotas(servicequotas: Any, instance_types: Iterable[str]) -> dict[str, int]:
    """Applied endpoint-usage quotas (instances) of the given types; types not listed are absent."""
    wanted = {endpoint_quota_name(t): t for t in instance_types}
    found: dict[str, int] = {}
    for quota in _pages(servicequotas, "list_service_quotas", "Quotas", ServiceCode="sagemaker"):
        instance_type = wanted.get(str(quota.get("QuotaName", "")))
        if instance_type is not None and quota.get("Value") is not None:
            found[instance_type] = int(quota["Value"])
            if len(found) == len(wanted):
                break
    return found


def instances_in_use(sagemaker: Any, instance_types: Iterable[str]) -> dict[str, int]:
    """Instances of the given types held by the live endpoints this role may describe.

    The deployed stack may describe only its own (prefixed) endpoints; others' usage is not
    counted, and SageMaker itself refuses an endpoint beyond the quota (the candidate then
    fails with ResourceLimitExceeded, recorded with its message).
    """
    wanted = set(instance_types)
    used = dict.fromkeys(wanted, 0)
    for summary in _pages(sagemaker, "list_endpoints", "Endpoints"):
        if summary.get("EndpointStatus") not in LIVE_STATUSES:
            continue
        try:
            endpoint = sagemaker.describe_endpoint(EndpointName=summary["EndpointName"])
            config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        except ClientError as error:
            if is_not_found(error):
                continue
            raise
        for variant in config.get("ProductionVariants", []):
            instance_type = variant.get("InstanceType")
            if instance_type in wanted:
                used[instance_type] += int(variant.get("InitialInstanceCount", 1))
    return used


def quota_headroom(
    servicequotas: Any, sagemaker: Any, instance_types: Iterable[str]
) -> dict[str, int | None]:
    """Instances still available per type (quota - in use); None where the quota is unknown."""
    types = sorted(set(instance_types))
    if not types:
        return {}
    quotas = endpoint_quotas(servicequotas, types)
    used = instances_in_use(sagemaker, [t for t in types if t in quotas]) if quotas else {}
    return {t: (quotas[t] - used.get(t, 0)) if t in quotas else None for t in types}
