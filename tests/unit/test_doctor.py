"""`infercost doctor`: its verdicts, the checks of the stack, bucket, objects, quotas, prices and
Slack (moto, and botocore's Stubber where moto lacks a call), and the command's output and exit codes.

The roles and images checks are in test_doctor_roles_images.py; the whole doctor runs on the local
stack in tests/integration/test_doctor.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from infercost.cli import main
from infercost.data import doctor
from infercost.data.clients import new_client
from infercost.data.pricing import live
from infercost.data.pricing.snapshot import load_snapshot
from infercost.domain.doctor import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    STACK_OUTPUTS,
    Check,
    StackInfo,
    architectures,
    blockers,
    config_platform,
    read_manifest,
    slack_secret_check,
    summary,
)
from infercost.domain.models import EvaluationSpec
from infercost.local import bucket_events

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/infercost/0f1e2d3c"
BUCKET = "infercost-artifacts"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "pricing"


def outputs(**changes: str | None) -> dict[str, str]:
    values = {
        "ArtifactsBucketName": BUCKET,
        "ResultsTableName": "infercost-results",
        "StateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:infercost-evaluate",
        "CandidateStateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:infercost-candidate",
        "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:infercost-notifications",
        "SlackSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:infercost/slack-AbCdEf",
        "ExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/infercost-sagemaker",
        "ResourcePrefix": "infercost",
        "ReportsPrefix": "reports/",
    }
    values.update(changes)
    return {key: value for key, value in values.items() if value is not None}


def stack_info(**changes: str | None) -> StackInfo:
    return StackInfo("infercost", "CREATE_COMPLETE", REGION, ACCOUNT, "aws", outputs(**changes))


def spec(**changes: Any) -> EvaluationSpec:
    data: dict[str, Any] = {
        "model": {"name": "resnet", "image_uri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/model:v1"},
        "payload": {"content_type": "application/json", "s3_key": "models/resnet/sample.json"},
        "candidates": [{"instance_type": "ml.c6i.large"}],
    }
    data.update(changes)
    return EvaluationSpec.model_validate(data)


# --- verdicts -------------------------------------------------------------------------------


def test_an_index_lists_its_platforms_without_attestations() -> None:
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"digest": "sha256:1", "platform": {"os": "linux", "architecture": "amd64"}},
            {"digest": "sha256:2", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"digest": "sha256:3", "platform": {"os": "unknown", "architecture": "unknown"}},
        ],
    }
    manifest = read_manifest(json.dumps(index))
    assert manifest.kind == "index"
    assert manifest.platforms == ("linux/amd64", "linux/arm64/v8")
    assert architectures(manifest.platforms) == {"x86_64", "arm64"}
    docker_list = {"schemaVersion": 2, "manifests": [{"platform": {"os": "linux", "architecture": "arm64"}}]}
    assert read_manifest(json.dumps(docker_list), DOCKER_MANIFEST_LIST).platforms == ("linux/arm64",)


def test_a_single_manifest_points_at_its_config_and_schema1_names_its_architecture() -> None:
    single = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"digest": "sha256:abc"},
        "layers": [],
    }
    assert read_manifest(json.dumps(single)) == read_manifest(json.dumps(single), DOCKER_MANIFEST)
    assert read_manifest(json.dumps(single)).config_digest == "sha256:abc"
    assert read_manifest(json.dumps({"schemaVersion": 1, "architecture": "amd64"})).platforms == (
        "linux/amd64",
    )
    assert config_platform(json.dumps({"os": "linux", "architecture": "arm64"})) == "linux/arm64"
    assert config_platform(b"not json") is None
    assert architectures(["windows/amd64", "linux/ppc64le"]) == set()
    for bad in ("not json", "[]", json.dumps({"schemaVersion": 2})):
        with pytest.raises(ValueError):
            read_manifest(bad)


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("https://hooks.slack.com/services/T0/B0/XYZ", "ok"),
        (json.dumps({"webhook_url": "https://hooks.slack.com/services/T0/B0/XYZ"}), "ok"),
        ("http://127.0.0.1:8123/hook", "ok"),
        ("", "warn"),
        ("x7#Qp!2vL0-placeholder-from-the-deploy", "warn"),
        ("https://example.com/webhook/secret-part", "fail"),
        ("hooks.slack.com/services/T0/B0/XYZ", "fail"),
        ("https://hooks.slack.com/", "fail"),
        (json.dumps({"channel": "#ml"}), "fail"),
        ("{not json", "fail"),
    ],
)
def test_the_slack_secret_is_optional_but_must_be_a_webhook_when_set(value: str, status: str) -> None:
    check = slack_secret_check("Slack webhook", value)
    assert check.status == status
    assert "secret-part" not in check.detail and "XYZ" not in check.detail  # the URL is a secret
    assert (check.fix is not None) == (status != "ok")


def test_blockers_and_the_tally() -> None:
    checks = [
        Check("a", "ok", ""),
        Check("b", "fail", "", "fix"),
        Check("c", "warn", ""),
        Check("d", "skip", ""),
    ]
    assert blockers(checks) == [checks[1]]
    assert summary(checks) == "1 blocker, 1 warning, 1 passed, 1 skipped"
    assert checks[0].to_json() == {"name": "a", "status": "ok", "detail": ""}


def test_stack_info_reads_partition_region_and_account_from_the_stack_id() -> None:
    stack = StackInfo.from_description(
        "x",
        {"StackId": "arn:aws-cn:cloudformation:cn-north-1:210987654321:stack/x/1", "StackStatus": "S"},
        {},
    )
    assert (stack.partition, stack.region, stack.account) == ("aws-cn", "cn-north-1", "210987654321")
    assert stack.missing_outputs == list(STACK_OUTPUTS)
    assert stack.arn("s3", "b/k", regional=False) == "arn:aws-cn:s3:::b/k"


# --- the stack ------------------------------------------------------------------------------


def described(status: str = "CREATE_COMPLETE", **changes: str | None) -> dict[str, Any]:
    items = [{"OutputKey": key, "OutputValue": value} for key, value in outputs(**changes).items()]
    return {"Stacks": [{"StackName": "infercost", "StackId": STACK_ID, "StackStatus": status,
                        "CreationTime": "2026-11-01T00:00:00Z", "Outputs": items}]}  # fmt: skip


def read(answer: dict[str, Any] | str) -> tuple[Check, StackInfo | None]:
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    with Stubber(cloudformation) as stubber:
        if isinstance(answer, str):
            stubber.add_client_error("describe_stacks", "ValidationError", answer)
        else:
            stubber.add_response("describe_stacks", answer, {"StackName": "infercost"})
        return doctor.read_stack(cloudformation, "infercost")


def test_a_complete_stack_passes_with_its_outputs() -> None:
    check, stack = read(described())
    assert check.status == "ok" and "CREATE_COMPLETE in us-east-1, account 123456789012" in check.detail
    assert stack is not None and stack.output("ArtifactsBucketName") == BUCKET


def test_an_output_cdk_suffixed_is_found() -> None:
    answer = described(ArtifactsBucketName=None)
    answer["Stacks"][0]["Outputs"].append({"OutputKey": "ArtifactsBucketNameA1B2C3", "OutputValue": "b"})
    check, stack = read(answer)
    assert check.status == "ok" and stack is not None and stack.output("ArtifactsBucketName") == "b"


def test_a_missing_stack_fails_and_says_how_to_deploy() -> None:
    check, stack = read("Stack with id infercost does not exist")
    assert (check.status, stack) == ("fail", None)
    assert "does not exist" in check.detail and "cdk deploy" in str(check.fix)


def test_missing_outputs_fail_by_name() -> None:
    check, stack = read(described(SlackSecretArn=None, TopicArn=None))
    assert check.status == "fail" and "TopicArn, SlackSecretArn" in check.detail
    assert stack is not None and stack.output("TopicArn") is None


@pytest.mark.parametrize(
    ("status", "verdict", "usable"),
    [
        ("ROLLBACK_COMPLETE", "fail", False),
        ("UPDATE_IN_PROGRESS", "warn", True),
        ("UPDATE_ROLLBACK_COMPLETE", "warn", True),
    ],
)
def test_the_stack_status_matters(status: str, verdict: str, usable: bool) -> None:
    check, stack = read(described(status))
    assert check.status == verdict and status in check.detail
    assert (stack is not None) == usable


def test_without_the_stack_its_checks_are_skipped(moto_aws: None) -> None:
    live.clear_cache()
    clients = stubbed_clients(pricing_answer=None)
    checks = doctor.diagnose(clients, stack_name="nope", spec=None)
    by_name = {check.name: check for check in checks}
    assert by_name["Stack nope"].status == "fail"
    for name in ("Bucket events", "Function roles", "Slack webhook"):
        assert by_name[name].status == "skip" and by_name[name].detail == doctor.NEEDS_STACK
    for name in ("Quotas", "Images", "Objects"):
        assert by_name[name].status == "skip" and "SPEC" in by_name[name].detail
    assert by_name["Price List API"].status == "warn"


# --- bucket, objects ------------------------------------------------------------------------


@pytest.fixture
def s3(moto_aws: None) -> Any:
    bucket_events.install()
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    return client


def test_the_bucket_must_send_its_events_to_eventbridge(s3: Any) -> None:
    check = doctor.check_bucket_events(s3, stack_info())
    assert check.status == "fail" and "no run" in check.detail and "EventBridge" in str(check.fix)
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    assert doctor.check_bucket_events(s3, stack_info()).status == "ok"


def test_objects_a_run_reads_must_be_there_the_artifact_may_come_last(s3: Any) -> None:
    neuron = {
        "instance_type": "ml.inf2.xlarge",
        "container": {"model_data_key": "models/resnet/neuron.tar.gz"},
    }
    the_spec = spec(candidates=[{"instance_type": "ml.c6i.large"}, neuron])
    checks = {
        c.name: c for c in doctor.check_objects(s3, stack_info(), the_spec, "models/resnet/model.tar.gz")
    }
    assert checks["Object models/resnet/sample.json"].status == "fail"
    assert "aws s3 cp FILE s3://infercost-artifacts/models/resnet/sample.json" in str(
        checks["Object models/resnet/sample.json"].fix
    )
    assert checks["Object models/resnet/neuron.tar.gz"].status == "fail"
    assert "candidates[1].container.model_data_key" in checks["Object models/resnet/neuron.tar.gz"].detail
    assert checks["Object models/resnet/model.tar.gz"].status == "warn"
    assert "upload it last" in str(checks["Object models/resnet/model.tar.gz"].fix)
    assert checks["Object models/resnet/infercost.json"].status == "warn"
    for key in ("sample.json", "neuron.tar.gz", "model.tar.gz", "infercost.json"):
        s3.put_object(Bucket=BUCKET, Key=f"models/resnet/{key}", Body=b"12345")
    checks = {
        c.name: c for c in doctor.check_objects(s3, stack_info(), the_spec, "models/resnet/model.tar.gz")
    }
    assert {c.status for c in checks.values()} == {"ok"}
    assert "5 bytes, readable" in checks["Object models/resnet/sample.json"].detail


def test_an_object_s3_refuses_to_show_is_a_warning() -> None:
    s3 = boto3.client("s3", region_name=REGION)
    with Stubber(s3) as stubber:
        stubber.add_client_error("head_object", "403", "Forbidden", 403)
        check = doctor._check_object(s3, BUCKET, "k", "the payload", True, artifact=False)
    assert check.status == "warn" and "s3:GetObject" in str(check.fix)


# --- quotas ---------------------------------------------------------------------------------


def quota_page(values: dict[str, float]) -> dict[str, Any]:
    return {
        "Quotas": [
            {
                "ServiceCode": "sagemaker",
                "QuotaCode": f"L-{i}",
                "QuotaName": f"{name} for endpoint usage",
                "Value": value,
            }
            for i, (name, value) in enumerate(values.items())
        ]
    }


def quotas_check(values: dict[str, float], the_spec: EvaluationSpec) -> dict[str, Check]:
    servicequotas = boto3.client("service-quotas", region_name=REGION)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    with Stubber(servicequotas) as quota_stub, Stubber(sagemaker) as sagemaker_stub:
        quota_stub.add_response(
            "list_service_quotas", quota_page(values), {"ServiceCode": "sagemaker", "MaxResults": ANY}
        )
        if values:
            sagemaker_stub.add_response("list_endpoints", {"Endpoints": []}, {"MaxResults": ANY})
        return {check.name: check for check in doctor.check_quotas(servicequotas, sagemaker, the_spec)}


def test_quotas_pass_fail_and_unknown() -> None:
    the_spec = spec(
        candidates=[
            {"instance_type": "ml.g5.xlarge"},
            {"instance_type": "ml.g5.xlarge", "instance_count": 2},
            {"instance_type": "ml.c6i.large"},
            {"instance_type": "ml.c7g.large"},
        ],
        model={"name": "resnet", "image_uri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/model:v1",
               "images": {"arm64": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/model:arm"}},
    )  # fmt: skip
    checks = quotas_check({"ml.g5.xlarge": 2, "ml.c6i.large": 4}, the_spec)
    g5 = checks["Quota ml.g5.xlarge"]
    assert g5.status == "fail" and "2 instance(s) left" in g5.detail and "need 3" in g5.detail
    assert "would skip 2 × ml.g5.xlarge" in g5.detail
    assert "request an increase of 'ml.g5.xlarge for endpoint usage' by 1 in Service Quotas" in str(g5.fix)
    assert checks["Quota ml.c6i.large"].status == "ok"
    assert checks["Quota ml.c7g.large"].status == "warn"


def test_serverless_only_needs_no_instance_quota() -> None:
    the_spec = spec(candidates=[{"serverless": {"memory_mb": 2048}}])
    assert [c.status for c in doctor.check_quotas(None, None, the_spec)] == ["skip"]


# --- prices ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_prices() -> Iterator[None]:
    live.clear_cache()
    yield
    live.clear_cache()


def pricing_check(answer: dict[str, Any] | str | None, *, guarded: bool = False) -> Check:
    pricing = new_client("pricing", region=REGION) if guarded else boto3.client("pricing", region_name=REGION)
    with Stubber(pricing) as stubber:
        if isinstance(answer, str):
            stubber.add_client_error("get_products", answer, "no", 400)
        elif answer is not None:
            stubber.add_response("get_products", answer)
        return doctor.check_prices(pricing, REGION, "ml.g5.xlarge")


def test_the_price_list_api_answers_or_the_snapshot_is_used() -> None:
    answer = json.loads((FIXTURES / "get_products_ml_g5_xlarge.json").read_text())
    check = pricing_check(answer)
    assert check.status == "ok" and "ml.g5.xlarge is $" in check.detail
    live.clear_cache()
    snapshot = load_snapshot().as_of
    for failing in ("InvalidParameterException", {"PriceList": [], "FormatVersion": "aws_v1"}):
        live.clear_cache()
        check = pricing_check(failing)
        assert check.status == "warn" and f"the snapshot of {snapshot} will be used" in check.detail


def test_a_price_list_api_refused_to_the_caller_is_a_warning_naming_the_action() -> None:
    # The doctor's own principal, not the stack: the roles check covers Prepare's grant.
    check = pricing_check("AccessDeniedException", guarded=True)
    assert check.status == "warn" and "pricing:GetProducts" in check.detail
    assert str(check.fix).startswith("run the doctor as a principal allowed pricing:GetProducts")


# --- Slack ----------------------------------------------------------------------------------


def test_the_slack_secret(moto_aws: None) -> None:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(Name="infercost/slack")["ARN"]
    check, _ = doctor.check_slack(secrets, stack_info(SlackSecretArn=arn))
    assert check.status == "warn" and "no value" in check.detail
    secrets.put_secret_value(SecretId=arn, SecretString="https://hooks.slack.com/services/T/B/C")
    check, full_arn = doctor.check_slack(secrets, stack_info(SlackSecretArn=arn))
    assert check.status == "ok" and full_arn == arn
    secrets.put_secret_value(SecretId=arn, SecretString="https://example.com/hook")
    assert doctor.check_slack(secrets, stack_info(SlackSecretArn=arn))[0].status == "fail"
    gone = arn.replace("infercost/slack", "infercost/gone")
    check, _ = doctor.check_slack(secrets, stack_info(SlackSecretArn=gone))
    assert check.status == "fail" and "does not exist" in check.detail


# --- the command ----------------------------------------------------------------------------


def stubbed_clients(*, pricing_answer: dict[str, Any] | None) -> Any:
    """moto's clients, with the Price List API's answer stubbed (None: an error)."""
    made: dict[str, Any] = {}

    def clients(service: str, region: str | None = None) -> Any:
        if service not in made:
            made[service] = boto3.client(service, region_name=region or REGION)
            if service == "pricing":
                stubber = Stubber(made[service])
                if pricing_answer is None:
                    stubber.add_client_error("get_products", "InvalidParameterException", "no")
                else:
                    stubber.add_response("get_products", pricing_answer)
                stubber.activate()
        return made[service]

    return clients


def run(capsys: Any, *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def canned(monkeypatch: Any, checks: list[Check]) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def diagnose(clients: Any, **kwargs: Any) -> list[Check]:
        calls.append(kwargs)
        return checks

    monkeypatch.setattr(doctor, "client_factory", lambda region, endpoint_url: None)
    monkeypatch.setattr(doctor, "diagnose", diagnose)
    return calls


def test_the_command_renders_the_checklist_and_exits_by_its_blockers(
    capsys: Any, monkeypatch: Any, tmp_path: Path
) -> None:
    passing = [
        Check("Stack infercost", "ok", "CREATE_COMPLETE"),
        Check("Slack webhook", "warn", "placeholder", "put it into arn:aws:secretsmanager:r:1:secret:s"),
    ]
    calls = canned(monkeypatch, passing)
    code, out, _ = run(capsys, "doctor", "--stack", "team-a", "--region", "eu-west-1")
    assert code == 0
    assert (
        "✔ Stack infercost: CREATE_COMPLETE" in out
        and "! Slack webhook: placeholder\n    → put it into arn:aws:secretsmanager:r:1:secret:s\n" in out
    )
    assert "ready: 0 blockers, 1 warning, 1 passed" in out
    assert calls[-1] == {"stack_name": "team-a", "spec": None, "artifact_key": None, "region": "eu-west-1"}

    blocked = [
        *passing,
        Check("Quota ml.g5.xlarge", "fail", "0 left of [it]", "request 'ml.g5.xlarge for endpoint usage'"),
    ]
    canned(monkeypatch, blocked)
    path = tmp_path / "infercost.json"
    path.write_text(spec().model_dump_json())
    code, out, _ = run(capsys, "doctor", str(path), "--artifact", "models/resnet/v2.tar.gz")
    assert code == 1
    assert "✖ Quota ml.g5.xlarge: 0 left of [it]\n" in out
    assert "→ request 'ml.g5.xlarge for endpoint usage'" in out and "blocked: 1 blocker" in out

    code, out, _ = run(capsys, "doctor", str(path), "--format", "json")
    answer = json.loads(out)
    assert code == 1 and answer["ready"] is False and answer["checks"][-1]["status"] == "fail"


def test_an_unreadable_spec_is_one_line_and_exit_2(capsys: Any, monkeypatch: Any, tmp_path: Path) -> None:
    canned(monkeypatch, [])
    code, out, err = run(capsys, "doctor", str(tmp_path / "missing.json"))
    assert code == 2 and out == ""
    assert err.startswith("error: no such file") and err.count("\n") == 1


def test_the_clients_are_made_once_per_service_and_region() -> None:
    clients = doctor.client_factory(REGION, None)
    assert clients("s3") is clients("s3", REGION)
    assert clients("ecr", "eu-west-1").meta.region_name == "eu-west-1"
    assert clients("ecr", "eu-west-1") is not clients("ecr")


def test_the_local_stack_answers_with_the_buckets_eventbridge_setting() -> None:
    empty = (
        '<?xml version="1.0"?>\n<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
    )
    assert bucket_events.with_event_bridge(empty).endswith(
        '<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        "<EventBridgeConfiguration/></NotificationConfiguration>"
    )
    full = "<NotificationConfiguration><TopicConfiguration/></NotificationConfiguration>"
    assert bucket_events.with_event_bridge(full) == (
        "<NotificationConfiguration><TopicConfiguration/><EventBridgeConfiguration/></NotificationConfiguration>"
    )
    assert bucket_events.with_event_bridge(bucket_events.with_event_bridge(full)).count("EventBridge") == 1
    assert bucket_events.with_event_bridge("") == ""


def test_a_blob_is_fetched_over_https_only() -> None:
    from infercost.data.doctor_images import fetch_url

    with pytest.raises(ValueError, match="not https"):
        fetch_url("http://169.254.169.254/latest")
