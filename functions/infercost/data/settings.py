"""Settings of the deployed functions, read from the environment once, at first use.

The variables are listed in docs/architecture.md ("Lambda environment"). Importing this module
reads nothing: a handler can be imported (and unit-tested) without any AWS environment.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infercost.domain.errors import InfercostError

# Names are '<prefix>-<run id>-<nn>-<slug>' and at most 63 characters; a short prefix leaves the
# slug room to stay readable.
RESOURCE_PREFIX_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
RESOURCE_PREFIX_MAX_CHARS = 20

_ENV = {
    "table_name": "INFERCOST_TABLE_NAME",
    "artifacts_bucket": "INFERCOST_ARTIFACTS_BUCKET",
    "reports_prefix": "INFERCOST_REPORTS_PREFIX",
    "topic_arn": "INFERCOST_TOPIC_ARN",
    "slack_secret_arn": "INFERCOST_SLACK_SECRET_ARN",
    "resource_prefix": "INFERCOST_RESOURCE_PREFIX",
    "execution_role_arn": "INFERCOST_EXECUTION_ROLE_ARN",
    "defaults": "INFERCOST_DEFAULTS",
    "max_endpoint_age_minutes": "INFERCOST_MAX_ENDPOINT_AGE_MINUTES",
    "max_sweep_workers": "INFERCOST_MAX_SWEEP_WORKERS",
    "price_overrides": "INFERCOST_PRICE_OVERRIDES",
    "simulated_note": "INFERCOST_SIMULATED_NOTE",
}
_JSON_FIELDS = ("defaults", "price_overrides")


class ConfigError(InfercostError):
    """A deployment setting (environment variable) that is missing or not valid."""


class Settings(BaseModel):
    """The functions' configuration. Fields a function does not use may be absent from its env."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    table_name_: str | None = Field(default=None, alias="table_name", min_length=1)
    artifacts_bucket_: str | None = Field(default=None, alias="artifacts_bucket", min_length=1)
    reports_prefix: str = "reports/"
    topic_arn_: str | None = Field(default=None, alias="topic_arn", min_length=1)
    slack_secret_arn: str | None = None
    resource_prefix: str = Field(
        default="infercost", pattern=RESOURCE_PREFIX_PATTERN, max_length=RESOURCE_PREFIX_MAX_CHARS
    )
    execution_role_arn_: str | None = Field(
        default=None, alias="execution_role_arn", pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$"
    )
    defaults: dict[str, Any] = Field(default_factory=dict)
    max_endpoint_age_minutes: int = Field(default=180, ge=1)
    # The stack reserves concurrency for this many LoadWorkers per candidate; a spec asking for
    # more would be throttled. Unset (a local run): the most the load generator splits into.
    max_sweep_workers: int = Field(default=32, ge=1)
    price_overrides: dict[str, Any] | None = None
    simulated_note: str | None = Field(
        default=None, description="set by the local stack: hardware differences are simulated"
    )
    region: str = "us-east-1"

    @property
    def table_name(self) -> str:
        return self._required("table_name", self.table_name_)

    @property
    def artifacts_bucket(self) -> str:
        return self._required("artifacts_bucket", self.artifacts_bucket_)

    @property
    def topic_arn(self) -> str:
        return self._required("topic_arn", self.topic_arn_)

    @property
    def execution_role_arn(self) -> str:
        return self._required("execution_role_arn", self.execution_role_arn_)

    @staticmethod
    def _required(name: str, value: str | None) -> str:
        if value is None:
            raise ConfigError(
                "is not set", field=_ENV[name], hint="the stack sets it; export it for local runs"
            )
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Parse the settings from environment variables (empty values count as unset)."""
        values: dict[str, Any] = {}
        for name, variable in _ENV.items():
            text = environ.get(variable, "").strip()
            if not text:
                continue
            values[name] = _parse_json(variable, text) if name in _JSON_FIELDS else text
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        if region:
            values["region"] = region
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            name = str(first["loc"][0]) if first["loc"] else "settings"
            raise ConfigError(str(first["msg"]), field=_ENV.get(name, name)) from None


def _parse_json(variable: str, text: str) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"is not valid JSON: {error.msg} at column {error.colno}", field=variable) from None
    if not isinstance(value, dict):
        raise ConfigError("must be a JSON object", field=variable, hint='e.g. {"slo": {...}}')
    return value


_lock = threading.Lock()
_settings: Settings | None = None


def get_settings() -> Settings:
    """The process's settings, parsed from the environment the first time they are needed."""
    global _settings
    with _lock:
        if _settings is None:
            _settings = Settings.from_env(os.environ)
        return _settings


def reset_settings() -> None:
    """Forget the parsed settings (the local stack and tests change the environment)."""
    global _settings
    with _lock:
        _settings = None
