"""The optional context: a given execution role, an existing Slack secret, an email subscription."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.cdk_support import OPTIONS_KEY, identity_statements, resources_of
from tests.infra.cdk_support import OPTIONS_ROLE as ROLE

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def template(options_template: dict[str, Any]) -> dict[str, Any]:
    return options_template


def test_a_given_execution_role_is_passed_and_none_is_created(template: dict[str, Any]) -> None:
    roles = resources_of(template, "AWS::IAM::Role")
    assert not [name for name in roles if name.startswith("SageMakerExecutionRole")]
    [passing] = [s for s in identity_statements(template) if "iam:PassRole" in s.actions]
    assert passing.resources == (ROLE,)
    functions = resources_of(template, "AWS::Lambda::Function").values()
    assert {
        f["Properties"]["Environment"]["Variables"]["INFERCOST_EXECUTION_ROLE_ARN"]
        for f in functions
        if "Environment" in f["Properties"]
    } == {ROLE}


def test_an_existing_slack_secret_is_read_by_name(template: dict[str, Any]) -> None:
    assert resources_of(template, "AWS::SecretsManager::Secret") == {}
    [reading] = [s for s in identity_statements(template) if "secretsmanager:GetSecretValue" in s.actions]
    assert reading.resources == (
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:team/slack-webhook-??????",
    )


def test_the_email_address_is_subscribed_to_the_topic(template: dict[str, Any]) -> None:
    [subscription] = resources_of(template, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "ml-team@example.com"


# Prepare counts the instances every endpoint of the account holds (quotas are per account).
QUOTA_READS = {"sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig"}


def test_the_prefix_scopes_sagemaker_and_names_the_stack(template: dict[str, Any]) -> None:
    statements = identity_statements(template)
    sagemaker_resources = {
        r for s in statements for r in s.resources if ":sagemaker:" in r and not set(s.actions) <= QUOTA_READS
    }
    assert sagemaker_resources
    assert all(r.endswith(("/bench-*", ":endpoint/bench-*")) for r in sagemaker_resources)
    machines = {
        r["Properties"]["StateMachineName"]
        for r in resources_of(template, "AWS::StepFunctions::StateMachine").values()
    }
    assert machines == {"bench-evaluate", "bench-candidate"}


def test_a_given_key_encrypts_everything_and_none_is_created(
    template: dict[str, Any], options_stack: Any
) -> None:
    from aws_cdk.assertions import Annotations, Match

    assert resources_of(template, "AWS::KMS::Key") == {}
    [table] = resources_of(template, "AWS::DynamoDB::Table").values()
    assert table["Properties"]["SSESpecification"]["KMSMasterKeyId"] == OPTIONS_KEY
    [topic] = resources_of(template, "AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == OPTIONS_KEY
    groups = resources_of(template, "AWS::Logs::LogGroup").values()
    assert {g["Properties"]["KmsKeyId"] for g in groups} == {OPTIONS_KEY}
    functions = [
        f for f in resources_of(template, "AWS::Lambda::Function").values() if "KmsKeyArn" in f["Properties"]
    ]
    assert {f["Properties"]["KmsKeyArn"] for f in functions} == {OPTIONS_KEY}
    # The roles still get their use of the key, through their own policies.
    decrypting = [s for s in identity_statements(template) if "kms:Decrypt" in s.actions]
    assert decrypting and {r for s in decrypting for r in s.resources} == {OPTIONS_KEY}
    # The stack cannot add what CloudWatch Logs and alarms need to that key's policy: it says so.
    warnings = Annotations.from_stack(options_stack).find_warning(
        "*", Match.string_like_regexp("infercost:kms_key_arn names a key this stack cannot change")
    )
    assert len(warnings) == 1
    message = warnings[0].entry.data
    assert "logs.<region>.amazonaws.com" in message and "cloudwatch.amazonaws.com" in message
    assert "kms:EncryptionContext:aws:logs:arn" in message and "/bench/functions/*" in message
