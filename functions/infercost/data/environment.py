"""The names of the functions' environment variables, shared by the settings model, the CDK stack
and the local stack (a leaf: importing it loads no settings library)."""

from __future__ import annotations

from infercost.domain.errors import InfercostError

ENV_PREFIX = "INFERCOST_"


def env_name(field: str) -> str:
    """The environment variable of a setting: 'table_name' -> 'INFERCOST_TABLE_NAME' (the CDK
    stack names the functions' variables with this too)."""
    return ENV_PREFIX + field.upper()


class ConfigError(InfercostError):
    """A deployment setting (environment variable) that is missing or not valid."""
