"""Settings come from the environment at first use, and a bad one is named in one line."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from infercost.data.environment import ConfigError, env_name
from infercost.data.settings import Settings
from infercost.handlers._shared import get_settings, reset_settings

FULL = {
    "INFERCOST_TABLE_NAME": "results",
    "INFERCOST_ARTIFACTS_BUCKET": "artifacts",
    "INFERCOST_REPORTS_PREFIX": "html/",
    "INFERCOST_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t",
    "INFERCOST_SLACK_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:s",
    "INFERCOST_RESOURCE_PREFIX": "ic-bench",
    "INFERCOST_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/sm",
    "INFERCOST_DEFAULTS": json.dumps({"slo": {"percentile": "p90", "max_latency_ms": 80}}),
    "INFERCOST_MAX_ENDPOINT_AGE_MINUTES": "60",
    "INFERCOST_PRICE_OVERRIDES": json.dumps({"discount_percent": 10}),
    "AWS_REGION": "eu-west-1",
}


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], Settings]:
    """Settings read from exactly these variables (the test session's own are cleared)."""

    def load(variables: dict[str, str]) -> Settings:
        for name in list(os.environ):
            if name.startswith(("INFERCOST_", "AWS_REGION", "AWS_DEFAULT_REGION")):
                monkeypatch.delenv(name)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        return Settings.load()

    return load


def test_every_variable_is_read(environ: Callable[[dict[str, str]], Settings]) -> None:
    settings = environ(FULL)

    assert settings.table_name == "results" and settings.artifacts_bucket == "artifacts"
    assert settings.reports_prefix == "html/" and settings.resource_prefix == "ic-bench"
    assert settings.topic_arn.endswith(":t") and settings.slack_secret_arn
    assert settings.execution_role_arn.endswith("role/sm")
    assert settings.defaults == {"slo": {"percentile": "p90", "max_latency_ms": 80}}
    assert settings.max_endpoint_age_minutes == 60
    assert settings.price_overrides == {"discount_percent": 10}
    assert settings.region == "eu-west-1"


def test_defaults_and_a_missing_required_variable_named_when_used(
    environ: Callable[[dict[str, str]], Settings],
) -> None:
    settings = environ({"INFERCOST_TABLE_NAME": "t", "INFERCOST_TOPIC_ARN": "  "})

    assert settings.resource_prefix == "infercost" and settings.reports_prefix == "reports/"
    assert settings.defaults == {} and settings.slack_secret_arn is None
    with pytest.raises(ConfigError, match=r"^INFERCOST_TOPIC_ARN: is not set"):
        _ = settings.topic_arn
    with pytest.raises(ConfigError, match="INFERCOST_EXECUTION_ROLE_ARN"):
        _ = settings.execution_role_arn


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("INFERCOST_DEFAULTS", "{not json", "INFERCOST_DEFAULTS: is not valid JSON"),
        ("INFERCOST_DEFAULTS", "[1]", "INFERCOST_DEFAULTS: must be a JSON object"),
        ("INFERCOST_RESOURCE_PREFIX", "Bad_Prefix", "INFERCOST_RESOURCE_PREFIX"),
        ("INFERCOST_RESOURCE_PREFIX", "a" * 21, "INFERCOST_RESOURCE_PREFIX"),
        ("INFERCOST_MAX_ENDPOINT_AGE_MINUTES", "soon", "INFERCOST_MAX_ENDPOINT_AGE_MINUTES"),
        ("INFERCOST_EXECUTION_ROLE_ARN", "role/sm", "INFERCOST_EXECUTION_ROLE_ARN"),
    ],
)
def test_a_bad_value_names_its_variable(
    environ: Callable[[dict[str, str]], Settings], variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        environ({variable: value})
    assert caught.value.one_line().startswith(message)
    assert "\n" not in caught.value.one_line()


def test_settings_are_parsed_once_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERCOST_TABLE_NAME", "first")
    reset_settings()
    try:
        assert get_settings().table_name == "first"
        monkeypatch.setenv("INFERCOST_TABLE_NAME", "second")
        assert get_settings().table_name == "first"
        reset_settings()
        assert get_settings().table_name == "second"
    finally:
        reset_settings()


def test_importing_every_handler_needs_no_aws_environment() -> None:
    code = (
        "import importlib, os\n"
        "from infercost.handlers import HANDLERS, JANITOR\n"
        "for name in [*HANDLERS.values(), JANITOR]:\n"
        "    importlib.import_module(f'infercost.handlers.{name}')\n"
        "print('imported')\n"
    )
    environment = {"PATH": "/usr/bin:/bin", "POWERTOOLS_TRACE_DISABLED": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported"


def test_handler_registry_matches_modules() -> None:
    from infercost.handlers import HANDLERS, JANITOR, function_name, handler_path

    for module in [*HANDLERS.values(), JANITOR]:
        imported = importlib.import_module(f"infercost.handlers.{module}")
        assert callable(imported.handler)
        assert handler_path(module) == f"infercost.handlers.{module}.handler"
    assert function_name("CollectMetrics") == "CollectMetricsFunction"
    assert function_name(JANITOR) == "JanitorFunction"


@pytest.mark.parametrize(
    ("environment", "service", "namespace"),
    [
        ({"POWERTOOLS_SERVICE_NAME": "bench", "POWERTOOLS_METRICS_NAMESPACE": "team"}, "bench", "team"),
        ({"POWERTOOLS_SERVICE_NAME": "", "POWERTOOLS_METRICS_NAMESPACE": ""}, "infercost", "infercost"),
        ({}, "infercost", "infercost"),
    ],
)
def test_the_environment_names_the_service_and_namespace(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], service: str, namespace: str
) -> None:
    # The stack's alarms watch dimension service=<resource prefix>, which it passes here.
    from infercost.handlers._shared import powertools

    for variable in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    logger, _, metrics = powertools()
    assert logger.service == service
    assert (metrics.service, metrics.namespace) == (service, namespace)


def test_the_sweep_worker_limit_comes_from_the_stack_or_defaults_to_the_most_a_sweep_splits_into(
    environ: Callable[[dict[str, str]], Settings],
) -> None:
    assert environ({"INFERCOST_MAX_SWEEP_WORKERS": "4"}).max_sweep_workers == 4
    assert environ({}).max_sweep_workers == 32
    with pytest.raises(ConfigError, match="INFERCOST_MAX_SWEEP_WORKERS"):
        environ({"INFERCOST_MAX_SWEEP_WORKERS": "0"})


def test_every_variable_name_is_the_prefix_and_the_field() -> None:
    # The CDK stack names the functions' variables with env_name, the settings read them back.
    names = {env_name(field.removesuffix("_")) for field in Settings.model_fields if field != "region"}
    assert set(FULL) - {"AWS_REGION"} <= names
    assert env_name("table_name") == "INFERCOST_TABLE_NAME"
