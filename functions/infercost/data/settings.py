"""Settings of the deployed functions: a pydantic-settings model of their environment variables.

The variables are listed in docs/architecture.md ("Lambda environment"). Importing this module
reads nothing: a handler can be imported (and unit-tested) without any AWS environment.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from infercost.data.environment import ENV_PREFIX, ConfigError, env_name

# Names are '<prefix>-<run id>-<nn>-<slug>' and at most 63 characters; a short prefix leaves the
# slug room to stay readable.
RESOURCE_PREFIX_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
RESOURCE_PREFIX_MAX_CHARS = 20

# Variables holding JSON objects.
_JSON_FIELDS = ("defaults", "price_overrides")


class Settings(BaseSettings):
    """The functions' configuration. Fields a function does not use may be absent from its env."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="ignore", defer_build=True
    )

    table_name_: str | None = Field(default=None, validation_alias=env_name("table_name"))
    artifacts_bucket_: str | None = Field(default=None, validation_alias=env_name("artifacts_bucket"))
    reports_prefix: str = "reports/"
    topic_arn_: str | None = Field(default=None, validation_alias=env_name("topic_arn"))
    slack_secret_arn: str | None = None
    resource_prefix: str = Field(
        default="infercost", pattern=RESOURCE_PREFIX_PATTERN, max_length=RESOURCE_PREFIX_MAX_CHARS
    )
    execution_role_arn_: str | None = Field(
        default=None,
        validation_alias=env_name("execution_role_arn"),
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$",
    )
    defaults: dict[str, Any] = Field(default_factory=dict)
    max_endpoint_age_minutes: int = Field(default=180, ge=1)
    # The stack reserves concurrency for this many LoadWorkers per candidate; a spec asking for
    # more would be throttled. Unset (a local run): the most the load generator splits into.
    max_sweep_workers: int = Field(default=32, ge=1)
    price_overrides: dict[str, Any] | None = None
    # Where list prices come from: the AWS Price List API (the deployed stack; the bundled
    # snapshot answers when the API does not, and the run says so), or the snapshot alone (the
    # local demo: no AWS account to ask).
    price_list: Literal["live", "snapshot"] = "live"
    simulated_note: str | None = Field(
        default=None, description="set by the local stack: hardware differences are simulated"
    )
    region: str = Field(
        default="us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )

    @field_validator(
        "table_name_",
        "artifacts_bucket_",
        "topic_arn_",
        "slack_secret_arn",
        "execution_role_arn_",
        "simulated_note",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # A blank name or ARN counts as unset, as if the stack had not set it.
        return (value.strip() or None) if isinstance(value, str) else value

    @property
    def table_name(self) -> str:
        return _required("table_name", self.table_name_)

    @property
    def artifacts_bucket(self) -> str:
        return _required("artifacts_bucket", self.artifacts_bucket_)

    @property
    def topic_arn(self) -> str:
        return _required("topic_arn", self.topic_arn_)

    @property
    def execution_role_arn(self) -> str:
        return _required("execution_role_arn", self.execution_role_arn_)

    @classmethod
    def load(cls) -> Settings:
        """The settings in this process's environment; a bad one is a ConfigError naming it."""
        try:
            return cls()
        except SettingsError as error:
            field = next((f for f in _JSON_FIELDS if f'"{f}"' in str(error)), "settings")
            raise ConfigError("is not valid JSON", field=env_name(field)) from None
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            name = str(first["loc"][0]) if first["loc"] else "settings"
            variable = name.upper() if name.upper().startswith(("INFERCOST_", "AWS_")) else env_name(name)
            message = str(first["msg"])
            if first["type"] == "dict_type":
                message = "must be a JSON object"
            raise ConfigError(message, field=variable) from None


def _required(field: str, value: str | None) -> str:
    if value is None:
        raise ConfigError(
            "is not set", field=env_name(field), hint="the stack sets it; export it for local runs"
        )
    return value
