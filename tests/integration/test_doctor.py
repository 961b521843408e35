"""`infercost doctor` on the local stack, deployed through CloudFormation like the real one.

The stack's functions come from a moto CloudFormation stack with the deployed stack's outputs
(`EmbeddedStack(cloudformation=True)`); its bucket, secret, quotas (local Service Quotas), prices
(local Price List API) and an ECR repository with multi-platform images are moto's. Only IAM's
policy simulator, which moto lacks, answers through botocore's Stubber. Each check passes on the
stack as deployed, and fails, with its fix, once what it guards is broken.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest

from infercost.cli import main
from infercost.data import doctor
from infercost.data.doctor_roles import stack_functions
from infercost.data.handler_calls import load_calls
from infercost.data.pricing import live
from infercost.domain.doctor import OCI_INDEX, Check, StackInfo
from infercost.domain.models import EvaluationSpec
from infercost.local.observe import ACCOUNT_ID
from infercost.local.stack import EmbeddedStack
from tests.doctor_support import index, stub_simulations

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

REGION = "us-east-1"
IMAGE = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/team/resnet"
ARTIFACT = "models/resnet/model.tar.gz"
QUOTAS = {"ml.c6i.large": 2, "ml.c7g.large": 1}


def spec_data(arm64_tag: str = "multi") -> dict[str, Any]:
    return {
        "model": {"name": "resnet", "images": {"cpu": f"{IMAGE}:multi", "arm64": f"{IMAGE}:{arm64_tag}"}},
        "payload": {"content_type": "application/json", "s3_key": "models/resnet/sample.json"},
        "candidates": [
            {"instance_type": "ml.c6i.large"},
            {"instance_type": "ml.c7g.large"},
            {"serverless": {"memory_mb": 2048}},
        ],
    }


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack(cloudformation=True, quotas=QUOTAS) as local:
        ecr = local.client("ecr")
        ecr.create_repository(repositoryName="team/resnet")
        for tag, manifest in (("multi", index("amd64", "arm64")), ("x86", index("amd64"))):
            ecr.put_image(repositoryName="team/resnet", imageManifest=manifest, imageTag=tag, imageManifestMediaType=OCI_INDEX)  # fmt: skip
        local.put_object("models/resnet/sample.json", '{"inputs": [1, 2, 3]}')
        yield local


@pytest.fixture(autouse=True)
def fresh_prices() -> Iterator[None]:
    live.clear_cache()
    yield
    live.clear_cache()


def clients_for(
    stack: EmbeddedStack,
    denied: Mapping[str, Mapping[str, str]] | None = None,
    *,
    input_key: str = "models/resnet/infercost.json",
) -> doctor.Clients:
    """The stack's clients; IAM's simulator stubbed, every action allowed but `denied`."""
    cloudformation = stack.client("cloudformation")
    described = cloudformation.describe_stacks(StackName=stack.name)["Stacks"][0]
    info = StackInfo.from_description(stack.name, described, stack.outputs())
    roles = {
        name: function.role_arn
        for name, function in stack_functions(cloudformation, stack.client("lambda"), stack.name).items()
    }
    iam = boto3.client("iam", region_name=REGION)
    stub_simulations(
        iam, info, roles, load_calls(), input_key=input_key, secret_arn=stack.secret_arn, denied=denied,
    )  # fmt: skip

    def clients(service: str, region: str | None = None) -> Any:
        return iam if service == "iam" else stack.client(service)

    return clients


def statuses(checks: list[Check]) -> dict[str, str]:
    return {check.name: check.status for check in checks}


def test_the_local_stack_as_deployed_has_no_blocker(stack: EmbeddedStack) -> None:
    spec = EvaluationSpec.model_validate(spec_data())
    checks = doctor.diagnose(clients_for(stack), stack_name=stack.name, spec=spec)
    assert statuses(checks) == {
        "Spec": "ok",
        "Stack infercost": "ok",
        "Bucket events": "ok",
        "Function roles": "ok",
        "Slack webhook": "warn",  # the deploy's placeholder: Slack is optional
        "Price List API": "ok",
        "Quota ml.c6i.large": "ok",
        "Quota ml.c7g.large": "ok",
        "Image team/resnet:multi": "ok",
        "Object models/resnet/infercost.json": "warn",  # not uploaded yet
        "Object models/resnet/model.tar.gz": "warn",  # uploaded last
        "Object models/resnet/sample.json": "ok",
    }
    by_name = {check.name: check for check in checks}
    assert (
        by_name["Stack infercost"].detail == f"CREATE_COMPLETE in {REGION}, account {ACCOUNT_ID}, 9 outputs"
    )
    assert by_name["Function roles"].detail.startswith("10 functions' roles allow")
    assert by_name["Quota ml.c7g.large"].detail == "1 instance(s) left of 'ml.c7g.large for endpoint usage', the candidates need 1"  # fmt: skip
    assert by_name["Image team/resnet:multi"].detail == (
        "linux/amd64, linux/arm64: runs on ml.c6i.large, ml.c7g.large, serverless 2048 MB"
    )
    assert "$" in by_name["Price List API"].detail


def test_each_broken_guard_is_a_blocker_with_its_fix(stack: EmbeddedStack) -> None:
    s3 = stack.client("s3")
    s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration={})
    stack.runtime.quotas["ml.c7g.large"] = 0  # type: ignore[union-attr]
    stack.client("secretsmanager").put_secret_value(
        SecretId=stack.secret_arn, SecretString="https://example.com/h"
    )
    try:
        spec = EvaluationSpec.model_validate(
            {**spec_data(arm64_tag="x86"), "payload": {"s3_key": "models/resnet/missing.json"}}
        )
        denied = {"NotifyFunction": {"sns:Publish": "implicitDeny"}}
        checks = doctor.diagnose(clients_for(stack, denied), stack_name=stack.name, spec=spec)
    finally:
        s3.put_bucket_notification_configuration(
            Bucket=stack.bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        stack.runtime.quotas.update(QUOTAS)  # type: ignore[union-attr]
        stack.client("secretsmanager").put_secret_value(SecretId=stack.secret_arn, SecretString="placeholder")
    failed = {check.name: check for check in checks if check.status == "fail"}
    assert set(failed) == {
        "Bucket events",
        "Role of NotifyFunction",
        "Slack webhook",
        "Quota ml.c7g.large",
        "Image team/resnet:x86",
        "Object models/resnet/missing.json",
    }
    assert "sns:Publish (implicitDeny)" in failed["Role of NotifyFunction"].detail
    assert "'ml.c7g.large for endpoint usage' by 1" in str(failed["Quota ml.c7g.large"].fix)
    assert "ml.c7g.large needs arm64 (Graviton)" in failed["Image team/resnet:x86"].detail
    assert all(check.fix for check in failed.values())


def test_without_a_spec_the_stack_is_still_checked(stack: EmbeddedStack) -> None:
    clients = clients_for(stack, input_key="models/doctor-check/infercost.json")
    checks = doctor.diagnose(clients, stack_name=stack.name)
    assert statuses(checks)["Function roles"] == "ok"
    assert [name for name, status in statuses(checks).items() if status == "skip"] == [
        "Spec", "Quotas", "Images", "Objects"
    ]  # fmt: skip


def test_the_command_on_the_local_stack(
    stack: EmbeddedStack, capsys: Any, monkeypatch: Any, tmp_path: Path
) -> None:
    path = tmp_path / "infercost.json"

    def run(*argv: str) -> tuple[int, str]:
        try:
            main(["doctor", *argv])
            code = 0
        except SystemExit as stop:
            code = int(stop.code or 0)
        return code, capsys.readouterr().out

    monkeypatch.setattr(doctor, "client_factory", lambda region, endpoint_url: clients_for(stack))
    path.write_text(json.dumps(spec_data()))
    code, out = run(str(path), "--artifact", ARTIFACT)
    assert code == 0, out
    assert "✔ Function roles: 10 functions' roles allow" in out
    assert "! Slack webhook: holds the deploy's placeholder" in out
    assert "ready: 0 blockers, 3 warnings, 9 passed" in out

    path.write_text(json.dumps(spec_data(arm64_tag="x86")))
    code, out = run(str(path), "--format", "json")
    answer = json.loads(out)
    assert code == 1 and answer["ready"] is False
    (image,) = [check for check in answer["checks"] if check["status"] == "fail"]
    assert image["name"] == "Image team/resnet:x86" and image["fix"].startswith(
        "use an image built for linux/arm64"
    )
