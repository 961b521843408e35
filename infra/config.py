"""Stack configuration: the `infercost:*` context keys, their defaults, and their validation.

The defaults live here and, for people to read and edit, in `cdk.json`; docs/deploy.md lists
them. A bad value fails synthesis with one line naming the context key, so a typo is caught by
`cdk deploy`, not by the first evaluation.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aws_cdk import aws_logs as logs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from infercost.domain.errors import InputError, from_validation_error
from infercost.domain.models import Candidate, LoadPlan, Slo
from infercost.domain.traffic import TrafficProfile

CONTEXT_PREFIX = "infercost:"

# Workflow timing keys (docs/architecture.md, "Execution input and workflow timing") and the
# stack's defaults for them; `max_concurrency` has its own context key.
WORKFLOW_DEFAULTS: dict[str, int] = {
    "endpoint_poll_seconds": 30,
    "endpoint_deadline_seconds": 1800,
    "metrics_delay_seconds": 60,
    "metrics_poll_seconds": 30,
    "metrics_deadline_seconds": 600,
    "metrics_flush_seconds": 30,
    "teardown_settle_seconds": 600,
}

# An ECR repository (or, with '*', repositories) in `infercost:image_repositories`.
ECR_REPOSITORY_ARN = r"arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository/[a-z0-9._/*-]+"

# The retention periods CloudWatch Logs offers, in days, in the order of logs.RetentionDays.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


class StackConfig(BaseModel):
    """Everything a deployment may choose; each field is the context key `infercost:<field>`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resource_prefix: str = Field(
        default="infercost",
        pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$",
        max_length=16,
        description="prefix of every SageMaker resource name; IAM is scoped to '<prefix>-*'",
    )
    key_prefix: str = Field(default="models/", description="artifact keys that start an evaluation")
    key_suffix: str = Field(default=".tar.gz", min_length=1)
    reports_prefix: str = Field(default="reports/", pattern=r"^[A-Za-z0-9!_.*'()/-]+/$")
    candidates: list[Candidate] | None = Field(
        default=None, description="default candidate set; null = infercost's built-in set"
    )
    slo: Slo | None = None
    load: LoadPlan | None = None
    traffic: TrafficProfile | None = None
    workflow: dict[str, int] = Field(default_factory=lambda: dict(WORKFLOW_DEFAULTS))
    max_concurrency: int = Field(default=4, ge=1, le=40, description="candidates benchmarked at once")
    # These size each function's reserved concurrency (infra/concurrency.py).
    max_concurrent_runs: int = Field(default=2, ge=1, le=100, description="evaluations running at once")
    max_sweep_workers: int = Field(
        default=4, ge=1, le=64, description="the most LoadWorker functions one candidate's sweep may use"
    )
    reserved_concurrency_ceiling: int = Field(
        default=900, ge=1, description="the most concurrent executions all functions may reserve"
    )
    max_endpoint_age_minutes: int = Field(default=180, ge=15, le=7 * 24 * 60)
    janitor_schedule_minutes: int = Field(default=15, ge=1, le=1440)
    notification_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    slack_secret_name: str | None = Field(default=None, min_length=1, max_length=256)
    execution_role_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$"
    )
    kms_key_arn: str | None = Field(
        default=None,
        # A key ARN (single- or multi-Region key), not an alias: grants name the key itself.
        pattern=(
            r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/"
            r"(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
        ),
        description="the stack's KMS key; null = the stack creates one",
    )
    image_repositories: list[str] | None = Field(
        default=None,
        description="more ECR repositories (ARNs) or accounts (12-digit ids) the SageMaker role may pull from",
    )
    price_overrides: dict[str, Any] | None = None
    log_retention_days: int = Field(default=30, ge=1)
    bundle: bool = Field(default=True, description="build the dependency layers (tests set false)")

    @field_validator("key_prefix")
    @classmethod
    def _key_prefix(cls, value: str) -> str:
        if value and not value.endswith("/"):
            raise ValueError(f"must end with '/', e.g. {value + '/'!r}")
        if "*" in value or "?" in value:
            raise ValueError("must be a plain key prefix without wildcards")
        return value

    @field_validator("key_suffix")
    @classmethod
    def _key_suffix(cls, value: str) -> str:
        if "*" in value or "?" in value:
            raise ValueError("must be a plain suffix without wildcards, e.g. '.tar.gz'")
        return value

    @field_validator("image_repositories")
    @classmethod
    def _image_repositories(cls, value: list[str] | None) -> list[str] | None:
        for entry in value or []:
            if not (re.fullmatch(r"\d{12}", entry) or re.fullmatch(ECR_REPOSITORY_ARN, entry)):
                raise ValueError(
                    f"{entry!r} is neither a 12-digit account id nor an ECR repository ARN "
                    "(arn:aws:ecr:<region>:<account>:repository/<name>)"
                )
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"must be one of CloudWatch's periods: {', '.join(map(str, LOG_RETENTION_DAYS))}"
            )
        return value

    @field_validator("workflow")
    @classmethod
    def _workflow(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(WORKFLOW_DEFAULTS))
        if unknown:
            hint = " (it has its own key, infercost:max_concurrency)" if "max_concurrency" in unknown else ""
            raise ValueError(
                f"unknown timing key {unknown[0]!r}{hint}; valid keys: {', '.join(WORKFLOW_DEFAULTS)}"
            )
        for key, seconds in value.items():
            if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
                raise ValueError(f"{key} must be a whole number of seconds ≥ 0, got {seconds!r}")
        return {**WORKFLOW_DEFAULTS, **value}

    @property
    def log_retention(self) -> logs.RetentionDays:
        """The CloudWatch Logs retention of every log group the stack creates."""
        periods = [member for member in logs.RetentionDays if member.name != "INFINITE"]
        return periods[LOG_RETENTION_DAYS.index(self.log_retention_days)]

    @property
    def artifact_key_pattern(self) -> str:
        """The EventBridge wildcard matched by artifact keys, e.g. 'models/*.tar.gz'."""
        return f"{self.key_prefix}*{self.key_suffix}"

    def spec_defaults(self) -> dict[str, Any]:
        """`INFERCOST_DEFAULTS`: what fills a spec's omitted parts, plus the workflow timing."""
        defaults: dict[str, Any] = {
            "workflow": {**self.workflow, "max_concurrency": self.max_concurrency},
        }
        if self.candidates is not None:
            defaults["candidates"] = [c.model_dump(mode="json") for c in self.candidates]
        for name in ("slo", "load", "traffic"):
            value = getattr(self, name)
            if value is not None:
                defaults[name] = value.model_dump(mode="json")
        return defaults


def context_keys() -> list[str]:
    """Every context key the stack reads, e.g. 'infercost:resource_prefix'."""
    return [CONTEXT_PREFIX + name for name in StackConfig.model_fields]


def from_context(context: dict[str, Any]) -> StackConfig:
    """Build the configuration from the app's context; raises InputError naming the bad key."""
    values: dict[str, Any] = {}
    for key, raw in context.items():
        if not key.startswith(CONTEXT_PREFIX):
            continue
        name = key[len(CONTEXT_PREFIX) :]
        if name not in StackConfig.model_fields:
            raise InputError(
                f"unknown context key {key!r}",
                field="cdk context",
                hint=f"valid keys: {', '.join(context_keys())}",
            )
        value = _from_cli(name, raw)
        if value is not None:  # null keeps the default
            values[name] = value
    try:
        return StackConfig.model_validate(values)
    except ValidationError as error:
        failure = from_validation_error(error)
        # Name the context key a person typed, e.g. 'infercost:slo.max_latency_ms'.
        raise InputError(
            failure.message, field=f"{CONTEXT_PREFIX}{failure.field}", hint=failure.hint
        ) from None


def _from_cli(name: str, raw: Any) -> Any:
    # `cdk deploy -c infercost:slo='{"percentile": "p95", ...}'` passes every value as a string.
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if text in ("", "null"):
        return None
    if name in _STRING_FIELDS or not re.match(r"^[\[{]", text):
        return raw
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"is not valid JSON: {error.msg} at column {error.colno}", field=CONTEXT_PREFIX + name
        ) from None


# Values that stay text even when they look like JSON.
_STRING_FIELDS = {
    "resource_prefix",
    "key_prefix",
    "key_suffix",
    "reports_prefix",
    "notification_email",
    "slack_secret_name",
    "execution_role_arn",
    "kms_key_arn",
}
