"""Every resource of the stack, as CloudFormation will create it."""

from __future__ import annotations

import json
from fnmatch import fnmatch
from typing import Any

import pytest

from infercost.handlers import HANDLERS, JANITOR
from tests.infra.cdk_support import identity_statements, logical_id, only, resources_of, text

pytestmark = pytest.mark.infra

ARTIFACTS = "ArtifactsBucket"
TABLE = "ResultsTable"


def _ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def _arn(name: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [name, "Arn"]}


def test_the_stack_has_exactly_these_resources(template: dict[str, Any]) -> None:
    counts: dict[str, int] = {}
    for resource in template["Resources"].values():
        counts[resource["Type"]] = counts.get(resource["Type"], 0) + 1
    functions = len(HANDLERS) + 1  # + the janitor
    assert counts == {
        "AWS::S3::Bucket": 2,  # artifacts + their access logs
        "AWS::S3::BucketPolicy": 2,
        "Custom::S3BucketNotifications": 1,
        "AWS::DynamoDB::Table": 1,
        "AWS::KMS::Key": 1,
        "AWS::SNS::Topic": 1,
        "AWS::SNS::TopicPolicy": 1,
        "AWS::SecretsManager::Secret": 1,
        "AWS::StepFunctions::StateMachine": 2,  # the run's and the candidate's
        "AWS::Events::Rule": 2,  # upload trigger + janitor schedule
        "AWS::Lambda::Permission": 1,  # the schedule invoking the janitor
        "AWS::Lambda::LayerVersion": 3,
        # Each function has its own log group; the state machine has one too.
        "AWS::Lambda::Function": functions + 1,  # + CDK's bucket-notifications handler
        "AWS::Logs::LogGroup": functions + 1,
        # A role per function, each state machine's, the events role, SageMaker's, CDK's handler's.
        "AWS::IAM::Role": functions + 5,
        "AWS::IAM::Policy": functions + 5,
        "AWS::CloudWatch::Alarm": 2,
    }


def test_artifacts_bucket_is_private_encrypted_versioned_logged_and_tls_only(
    template: dict[str, Any], assertions: Any
) -> None:
    from aws_cdk.assertions import Match

    bucket = logical_id(template, "AWS::S3::Bucket", "ArtifactsBucket")
    logs_bucket = logical_id(template, "AWS::S3::Bucket", "ArtifactsAccessLogs")
    properties = template["Resources"][bucket]["Properties"]
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["LoggingConfiguration"]["DestinationBucketName"] == _ref(logs_bucket)
    assert template["Resources"][bucket]["DeletionPolicy"] == "Retain"
    for name in (bucket, logs_bucket):
        assertions.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "Bucket": _ref(name),
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Action": "s3:*",
                                    "Principal": {"AWS": "*"},
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                },
            },
        )
    # CDK switches on EventBridge notifications through its custom resource.
    _, notifications = only(template, "Custom::S3BucketNotifications")
    assert notifications["Properties"]["BucketName"] == _ref(bucket)
    assert notifications["Properties"]["NotificationConfiguration"] == {"EventBridgeConfiguration": {}}


def test_access_log_bucket_is_versioned_and_its_old_versions_expire(template: dict[str, Any]) -> None:
    # Security Hub S3.14: "S3 general purpose buckets should have versioning enabled".
    logs_bucket = logical_id(template, "AWS::S3::Bucket", "ArtifactsAccessLogs")
    properties = template["Resources"][logs_bucket]["Properties"]
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    [rule] = properties["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 90
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}


def test_upload_of_an_artifact_starts_the_state_machine_with_the_event(
    template: dict[str, Any],
) -> None:
    rule_id = logical_id(template, "AWS::Events::Rule", "ArtifactsArtifactUploaded")
    rule = template["Resources"][rule_id]["Properties"]
    bucket = logical_id(template, "AWS::S3::Bucket", "ArtifactsBucket")
    machine = logical_id(template, "AWS::StepFunctions::StateMachine", "EvaluationStateMachine")
    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [_ref(bucket)]},
            "object": {"key": [{"wildcard": "models/*.tar.gz"}]},
        },
    }
    [target] = rule["Targets"]
    assert target["Arn"] == _ref(machine)
    # No Input/InputPath/InputTransformer: the execution input is the unmodified event.
    assert not {"Input", "InputPath", "InputTransformer"} & set(target)


def test_results_table_matches_the_documented_schema(template: dict[str, Any]) -> None:
    _, table = only(template, "AWS::DynamoDB::Table")
    properties = table["Properties"]
    assert properties["KeySchema"] == [
        {"AttributeName": "PK", "KeyType": "HASH"},
        {"AttributeName": "SK", "KeyType": "RANGE"},
    ]
    assert sorted(properties["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": "PK", "AttributeType": "S"},
        {"AttributeName": "SK", "AttributeType": "S"},
        {"AttributeName": "open_run", "AttributeType": "S"},
        {"AttributeName": "run_id", "AttributeType": "S"},
    ]
    assert properties["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "by-run",
            "KeySchema": [
                {"AttributeName": "run_id", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        # Sparse: only runs still RUNNING carry `open_run`; the janitor closes those whose
        # execution ended without recording.
        {
            "IndexName": "open-runs",
            "KeySchema": [
                {"AttributeName": "open_run", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
    ]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_results_table_is_the_one_the_store_defines(template: dict[str, Any]) -> None:
    from infercost.data.store import TTL_ATTRIBUTE, table_definition

    _, table = only(template, "AWS::DynamoDB::Table")
    properties = table["Properties"]
    definition = table_definition()
    for key in ("KeySchema", "GlobalSecondaryIndexes", "BillingMode"):
        assert properties[key] == definition[key], key
    by_name = sorted(properties["AttributeDefinitions"], key=lambda a: a["AttributeName"])
    assert by_name == sorted(definition["AttributeDefinitions"], key=lambda a: a["AttributeName"])
    assert properties["TimeToLiveSpecification"]["AttributeName"] == TTL_ATTRIBUTE


def test_topic_is_encrypted_with_a_rotating_key_and_tls_only(
    template: dict[str, Any], assertions: Any
) -> None:
    from aws_cdk.assertions import Match

    key, key_resource = only(template, "AWS::KMS::Key")
    topic, topic_resource = only(template, "AWS::SNS::Topic")
    assert key_resource["Properties"]["EnableKeyRotation"] is True
    assert topic_resource["Properties"]["KmsMasterKeyId"] == _arn(key)
    assertions.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [_ref(topic)],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sns:Publish",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        ),
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Action": "sns:Publish",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            }
                        ),
                    ]
                )
            },
        },
    )
    # CloudWatch alarms may use the key to publish to the encrypted topic.
    statements = key_resource["Properties"]["KeyPolicy"]["Statement"]
    assert any(
        s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        and set(s["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
        for s in statements
    )
    # No email subscription unless one is configured.
    assert resources_of(template, "AWS::SNS::Subscription") == {}


def _key_arn(template: dict[str, Any]) -> dict[str, list[str]]:
    key, _ = only(template, "AWS::KMS::Key")
    return _arn(key)


def test_one_customer_managed_key_encrypts_everything_the_stack_stores(template: dict[str, Any]) -> None:
    key = _key_arn(template)
    _, table = only(template, "AWS::DynamoDB::Table")
    assert table["Properties"]["SSESpecification"] == {
        "KMSMasterKeyId": key,
        "SSEEnabled": True,
        "SSEType": "KMS",
    }
    _, topic = only(template, "AWS::SNS::Topic")
    assert topic["Properties"]["KmsMasterKeyId"] == key
    _, secret = only(template, "AWS::SecretsManager::Secret")
    assert secret["Properties"]["KmsKeyId"] == key
    groups = resources_of(template, "AWS::Logs::LogGroup")
    assert len(groups) == len(HANDLERS) + 2  # each function's, the janitor's, the workflow's
    assert {name: g["Properties"].get("KmsKeyId") for name, g in groups.items()} == dict.fromkeys(groups, key)
    # The functions' environment variables (the workflow's functions; not CDK's own handler).
    for module, function in _functions(template).items():
        assert function["KmsKeyArn"] == key, module


def test_the_key_rotates_and_outlives_the_table_it_encrypts(template: dict[str, Any]) -> None:
    _, key = only(template, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    _, table = only(template, "AWS::DynamoDB::Table")
    assert table["DeletionPolicy"] == key["DeletionPolicy"] == "Retain"


def _key_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    _, key = only(template, "AWS::KMS::Key")
    statements: list[dict[str, Any]] = key["Properties"]["KeyPolicy"]["Statement"]
    return statements


def test_cloudwatch_logs_may_use_the_key_for_the_stacks_log_groups_only(template: dict[str, Any]) -> None:
    # docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html: the key policy
    # allows logs.<region>.amazonaws.com, conditioned on kms:EncryptionContext:aws:logs:arn.
    [statement] = [
        s
        for s in _key_statements(template)
        if text(s.get("Principal", {}).get("Service", "")).startswith("logs.")
    ]
    assert text(statement["Principal"]["Service"]) == "logs.${AWS::Region}.amazonaws.com"
    assert set(statement["Action"]) == {
        "kms:Encrypt*",
        "kms:Decrypt*",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:Describe*",
    }
    [(operator, condition)] = statement["Condition"].items()
    assert operator == "ArnLike"
    allowed = [text(arn) for arn in condition["kms:EncryptionContext:aws:logs:arn"]]
    prefix = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
    assert all(arn.startswith(prefix) for arn in allowed)
    patterns = [arn.removeprefix(prefix) for arn in allowed]
    # Every log group the stack creates is one the key policy allows, or its creation would fail.
    for name, group in resources_of(template, "AWS::Logs::LogGroup").items():
        assert any(fnmatch(group["Properties"]["LogGroupName"], p) for p in patterns), name


def test_cloudwatch_alarms_may_use_the_key_to_publish_to_the_topic(template: dict[str, Any]) -> None:
    # docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
    assert any(
        s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        and set(s["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
        for s in _key_statements(template)
    )


def test_every_function_may_decrypt_its_environment(template: dict[str, Any]) -> None:
    key = text(_key_arn(template))
    statements = identity_statements(template)
    for name in _function_names():
        role = f"${{{logical_id(template, 'AWS::IAM::Role', f'Functions{name}Role')}}}"
        assert any(
            role in s.roles and "kms:Decrypt" in s.actions and key in s.resources for s in statements
        ), name


def test_slack_secret_is_created_without_a_plaintext_value(template: dict[str, Any]) -> None:
    _, secret = only(template, "AWS::SecretsManager::Secret")
    assert "SecretString" not in secret["Properties"]
    assert "GenerateSecretString" in secret["Properties"]


def test_state_machines_log_every_step_without_execution_data_and_are_traced(
    template: dict[str, Any],
) -> None:
    log_group = logical_id(template, "AWS::Logs::LogGroup", "EvaluationLogs")
    machines = resources_of(template, "AWS::StepFunctions::StateMachine").values()
    assert len(machines) == 2
    for machine in machines:
        properties = machine["Properties"]
        assert properties["StateMachineType"] == "STANDARD"
        assert properties["TracingConfiguration"] == {"Enabled": True}
        # The inputs hold the container's environment (tokens, perhaps) and the request body.
        assert properties["LoggingConfiguration"] == {
            "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": _arn(log_group)}}],
            "IncludeExecutionData": False,
            "Level": "ALL",
        }
    group = template["Resources"][log_group]["Properties"]
    assert group["LogGroupName"].startswith("/aws/vendedlogs/states/")
    assert group["RetentionInDays"] == 30


def _function_names() -> dict[str, str]:
    names = {f"{state}Function": module for state, module in HANDLERS.items()}
    names["JanitorFunction"] = JANITOR
    return names


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Handler module -> its function's properties."""
    return {
        module: template["Resources"][logical_id(template, "AWS::Lambda::Function", f"Functions{name}")][
            "Properties"
        ]
        for name, module in _function_names().items()
    }


def test_one_function_per_handler_with_its_handler_string(template: dict[str, Any]) -> None:
    functions = _functions(template)
    assert set(functions) == set(HANDLERS.values()) | {JANITOR}
    for name, module in _function_names().items():
        function = functions[module]
        assert function["Handler"] == f"infercost.handlers.{module}.handler"
        assert function["Runtime"] == "python3.12"
        assert function["Architectures"] == ["x86_64"]
        assert function["TracingConfig"] == {"Mode": "Active"}
        log_group = logical_id(template, "AWS::Logs::LogGroup", f"Functions{name}Logs")
        assert function["LoggingConfig"]["LogGroup"] == _ref(log_group)


def test_timeouts_fit_each_state(template: dict[str, Any]) -> None:
    functions = _functions(template)
    timeouts = {module: function["Timeout"] for module, function in functions.items()}
    # LoadTest drives up to 15 minutes of requests; CollectMetrics polls past a 600 s deadline.
    assert timeouts["load_test"] == 900
    assert timeouts["collect_metrics"] > 600
    assert all(1 <= seconds <= 900 for seconds in timeouts.values())
    assert functions["report"]["MemorySize"] >= 1024  # matplotlib


def test_the_load_functions_get_a_whole_vcpu(template: dict[str, Any]) -> None:
    # Lambda allocates CPU in proportion to memory: one full vCPU at 1,769 MB. The load client's
    # event loop needs it (docs/benchmarks.md §1: ~58 k signed requests per CPU-second over TLS).
    functions = _functions(template)
    assert functions["load_test"]["MemorySize"] >= 1769
    assert functions["load_worker"]["MemorySize"] >= 1769


def test_functions_share_the_documented_environment(template: dict[str, Any]) -> None:
    table, _ = only(template, "AWS::DynamoDB::Table")
    topic, _ = only(template, "AWS::SNS::Topic")
    secret, _ = only(template, "AWS::SecretsManager::Secret")
    bucket = logical_id(template, "AWS::S3::Bucket", "ArtifactsBucket")
    role = logical_id(template, "AWS::IAM::Role", "SageMakerExecutionRole")
    for module, function in _functions(template).items():
        env = function["Environment"]["Variables"]
        assert env["INFERCOST_TABLE_NAME"] == _ref(table), module
        assert env["INFERCOST_ARTIFACTS_BUCKET"] == _ref(bucket)
        assert env["INFERCOST_TOPIC_ARN"] == _ref(topic)
        assert env["INFERCOST_SLACK_SECRET_ARN"] == _ref(secret)
        assert env["INFERCOST_EXECUTION_ROLE_ARN"] == _arn(role)
        assert env["INFERCOST_REPORTS_PREFIX"] == "reports/"
        assert env["INFERCOST_RESOURCE_PREFIX"] == "infercost"
        assert env["INFERCOST_MAX_ENDPOINT_AGE_MINUTES"] == "180"
        assert env["POWERTOOLS_SERVICE_NAME"] == "infercost"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "infercost"
        defaults = json.loads(env["INFERCOST_DEFAULTS"])
        assert defaults == {
            "workflow": {
                "max_concurrency": 4,
                "endpoint_poll_seconds": 30,
                "endpoint_deadline_seconds": 1800,
                "metrics_delay_seconds": 60,
                "metrics_poll_seconds": 30,
                "metrics_deadline_seconds": 600,
                "metrics_flush_seconds": 30,
                "teardown_settle_seconds": 600,
            }
        }
        assert "INFERCOST_PRICE_OVERRIDES" not in env
        # No price-list setting: the functions take the default, the live Price List API.
        assert "INFERCOST_PRICE_LIST" not in env


def test_only_the_report_function_carries_the_plotting_layer(template: dict[str, Any]) -> None:
    runtime = logical_id(template, "AWS::Lambda::LayerVersion", "FunctionsRuntimeDependencies")
    plotting = logical_id(template, "AWS::Lambda::LayerVersion", "FunctionsPlottingDependencies")
    tokenizer = logical_id(template, "AWS::Lambda::LayerVersion", "FunctionsTokenizerDependencies")
    # The functions that read or count with a tokenizer.json carry the tokenizer layer.
    counting = {"prepare", "load_test", "load_worker"}
    for module, function in _functions(template).items():
        expected = [_ref(runtime)]
        if module == "report":
            expected.append(_ref(plotting))
        if module in counting:
            expected.append(_ref(tokenizer))
        assert function["Layers"] == expected, module
    for layer in (runtime, plotting, tokenizer):
        properties = template["Resources"][layer]["Properties"]
        assert properties["CompatibleRuntimes"] == ["python3.12"]
        assert properties["CompatibleArchitectures"] == ["x86_64"]
    description = template["Resources"][runtime]["Properties"]["Description"]
    assert "pydantic==2.14.4" in description


def test_janitor_runs_on_a_schedule(template: dict[str, Any]) -> None:
    rule = template["Resources"][logical_id(template, "AWS::Events::Rule", "JanitorSchedule")]["Properties"]
    janitor = logical_id(template, "AWS::Lambda::Function", "FunctionsJanitorFunction")
    assert rule["ScheduleExpression"] == "rate(15 minutes)"
    [target] = rule["Targets"]
    assert target["Arn"] == _arn(janitor)
    _, permission = only(template, "AWS::Lambda::Permission")
    assert permission["Properties"]["FunctionName"] == _arn(janitor)
    assert permission["Properties"]["Principal"] == "events.amazonaws.com"


def test_alarms_fire_on_a_failed_run_and_on_an_old_endpoint(template: dict[str, Any]) -> None:
    topic, _ = only(template, "AWS::SNS::Topic")
    machine = logical_id(template, "AWS::StepFunctions::StateMachine", "EvaluationStateMachine")
    failed = template["Resources"][logical_id(template, "AWS::CloudWatch::Alarm", "AlarmsEvaluationFailed")]
    over_age = template["Resources"][
        logical_id(template, "AWS::CloudWatch::Alarm", "AlarmsEndpointOverMaxAge")
    ]
    failed, over_age = failed["Properties"], over_age["Properties"]

    assert (failed["Namespace"], failed["MetricName"]) == ("AWS/States", "ExecutionsFailed")
    assert failed["Dimensions"] == [{"Name": "StateMachineArn", "Value": _ref(machine)}]
    assert (over_age["Namespace"], over_age["MetricName"]) == ("infercost", "EndpointsOverMaxAge")
    assert over_age["Dimensions"] == [{"Name": "service", "Value": "infercost"}]
    assert over_age["TreatMissingData"] == "breaching"
    for alarm in (failed, over_age):
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["AlarmActions"] == [_ref(topic)]
        assert alarm["OKActions"] == [_ref(topic)]


def test_log_groups_keep_logs_for_the_configured_retention(template: dict[str, Any]) -> None:
    groups = resources_of(template, "AWS::Logs::LogGroup")
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {30}
