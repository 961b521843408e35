"""The `infercost:*` context keys: documented defaults, CLI strings, and one-line errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infercost.domain.errors import InputError
from infra.config import (
    LOG_RETENTION_DAYS,
    WORKFLOW_DEFAULTS,
    StackConfig,
    context_keys,
    from_context,
)
from tests.infra.cdk_support import ROOT

pytestmark = pytest.mark.infra


def _cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def test_cdk_json_documents_every_key_with_the_code_defaults() -> None:
    context = _cdk_json_context()
    assert {k for k in context if k.startswith("infercost:")} == set(context_keys())
    assert from_context(context) == StackConfig()


def test_cdk_json_runs_the_app_from_the_repository_root() -> None:
    assert json.loads((ROOT / "cdk.json").read_text())["app"] == "python3 infra/app.py"


def test_deploy_guide_documents_every_key_and_output() -> None:
    from infra.infercost_stack import OUTPUTS

    guide = (ROOT / "docs" / "deploy.md").read_text()
    assert [key for key in context_keys() if f"`{key}`" not in guide] == []
    assert [name for name in OUTPUTS if f"`{name}`" not in guide] == []


def test_defaults_give_the_documented_workflow_timing() -> None:
    config = StackConfig()
    assert config.artifact_key_pattern == "models/*.tar.gz"
    assert config.spec_defaults() == {"workflow": {**WORKFLOW_DEFAULTS, "max_concurrency": 4}}


def test_spec_defaults_carry_what_the_context_sets() -> None:
    config = from_context(
        {
            "infercost:slo": {"percentile": "P95", "max_latency_ms": 50},
            "infercost:candidates": [
                {"instance_type": "ml.c7g.large"},
                {"serverless": {"memory_mb": 2048}},
            ],
            "infercost:load": {"warmup": 10, "requests": 100},
            "infercost:traffic": {"requests_per_month": 1000, "peak_rps": 2},
            "infercost:workflow": {"metrics_delay_seconds": 0},
            "infercost:max_concurrency": 2,
        }
    )
    defaults = config.spec_defaults()
    assert defaults["slo"] == {"percentile": "p95", "max_latency_ms": 50.0}
    assert defaults["candidates"] == [
        {"instance_type": "ml.c7g.large", "instance_count": 1},
        {"serverless": {"memory_mb": 2048, "max_concurrency": 10}},
    ]
    assert defaults["load"]["requests"] == 100
    assert defaults["traffic"]["peak_rps"] == 2
    # A partial timing override keeps the other documented defaults.
    assert defaults["workflow"] == {
        **WORKFLOW_DEFAULTS,
        "metrics_delay_seconds": 0,
        "max_concurrency": 2,
    }


def test_cli_strings_are_parsed_like_json() -> None:
    config = from_context(
        {
            "infercost:max_concurrency": "8",
            "infercost:bundle": "false",
            "infercost:slo": '{"percentile": "p99", "max_latency_ms": 200}',
            "infercost:notification_email": "team@example.com",
            "infercost:execution_role_arn": "null",
        }
    )
    assert config.max_concurrency == 8
    assert config.bundle is False
    assert config.slo is not None and config.slo.percentile == "p99"
    assert config.notification_email == "team@example.com"
    # A string field keeps its text; "null" is not a role ARN.
    with pytest.raises(InputError, match="execution_role_arn"):
        from_context({"infercost:execution_role_arn": "arn:aws:iam::123:role/x"})


def test_a_kms_key_is_given_by_its_arn() -> None:
    single = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    multi_region = "arn:aws-cn:kms:cn-north-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"
    for arn in (single, multi_region):
        assert from_context({"infercost:kms_key_arn": arn}).kms_key_arn == arn


def test_null_means_the_default() -> None:
    assert from_context({"infercost:max_concurrency": None, "infercost:slo": "null"}) == StackConfig()


@pytest.mark.parametrize(
    ("context", "field", "says"),
    [
        (
            {"infercost:max_concurency": 4},
            "cdk context",
            "unknown context key 'infercost:max_concurency'",
        ),
        (
            {"infercost:slo": {"percentile": "p42", "max_latency_ms": 80}},
            "infercost:slo.percentile",
            "p50",
        ),
        ({"infercost:slo": '{"percentile": '}, "infercost:slo", "not valid JSON"),
        ({"infercost:key_prefix": "models"}, "infercost:key_prefix", "must end with '/'"),
        ({"infercost:key_suffix": "*.tar.gz"}, "infercost:key_suffix", "without wildcards"),
        ({"infercost:resource_prefix": "Infer_Cost"}, "infercost:resource_prefix", "pattern"),
        (
            {"infercost:image_repositories": ["12345", "arn:aws:ecr:us-east-1:123456789012:repository/x"]},
            "infercost:image_repositories",
            "'12345' is neither a 12-digit account id nor an ECR repository ARN",
        ),
        (
            {"infercost:kms_key_arn": "arn:aws:kms:us-east-1:123456789012:alias/infercost"},
            "infercost:kms_key_arn",
            "pattern",
        ),
        (
            {"infercost:workflow": {"max_concurrency": 2}},
            "infercost:workflow",
            "infercost:max_concurrency",
        ),
        ({"infercost:workflow": {"poll": 2}}, "infercost:workflow", "unknown timing key 'poll'"),
        ({"infercost:workflow": {"metrics_poll_seconds": -1}}, "infercost:workflow", "≥ 0"),
        ({"infercost:log_retention_days": 31}, "infercost:log_retention_days", "30, 60"),
        (
            {"infercost:candidates": [{"instance_type": "c5.large"}]},
            "infercost:candidates[0].instance_type",
            "",
        ),
    ],
)
def test_a_bad_value_names_the_key(context: dict[str, Any], field: str, says: str) -> None:
    with pytest.raises(InputError) as raised:
        from_context(context)
    assert raised.value.field == field
    assert says in raised.value.one_line()
    assert "\n" not in raised.value.one_line()


def test_keys_of_other_tools_are_left_alone() -> None:
    assert from_context({"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True}) == StackConfig()


@given(st.sampled_from(LOG_RETENTION_DAYS))
def test_every_cloudwatch_retention_period_maps_to_its_own_enum(days: int) -> None:
    config = StackConfig(log_retention_days=days)
    others = [StackConfig(log_retention_days=d).log_retention for d in LOG_RETENTION_DAYS if d != days]
    assert config.log_retention not in others
    assert config.log_retention.name != "INFINITE"


def test_retention_names_match_their_days() -> None:
    assert StackConfig(log_retention_days=30).log_retention.name == "ONE_MONTH"
    assert StackConfig(log_retention_days=365).log_retention.name == "ONE_YEAR"
    assert StackConfig(log_retention_days=3653).log_retention.name == "TEN_YEARS"
