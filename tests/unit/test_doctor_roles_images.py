"""`infercost doctor`: each function's role by IAM policy simulation, and each image's platforms.

moto holds the functions and the ECR images; botocore's Stubber answers what moto lacks
(SimulatePrincipalPolicy, GetDownloadUrlForLayer) and what it cannot be made to answer (a
registry that refuses, the stack's resource list without CloudFormation's import cost).
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from infercost.data.clients import new_client
from infercost.data.doctor_images import check_image, check_images, image_uses, short_name
from infercost.data.doctor_roles import (
    EXPLICIT_DENY,
    REDEPLOY,
    Simulation,
    check_roles,
    function_name_of,
    simulation_plan,
    stack_functions,
)
from infercost.data.handler_calls import load_calls
from infercost.domain.doctor import DOCKER_MANIFEST, OCI_INDEX
from infercost.domain.hardware import EXAMPLE_IMAGES
from infercost.domain.models import EvaluationSpec
from infercost.handlers import HANDLERS, JANITOR, function_name, handler_path
from tests.doctor_support import index, stub_simulations
from tests.unit.test_doctor import ACCOUNT, BUCKET, REGION, spec, stack_info

INPUT_KEY = "models/resnet/infercost.json"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:infercost/slack-AbCdEf"


# --- roles ----------------------------------------------------------------------------------


def test_every_handler_is_found_by_its_handler_string() -> None:
    for state, module in [*HANDLERS.items(), (JANITOR, JANITOR)]:
        assert function_name_of(handler_path(module)) == function_name(state)
    assert function_name_of("index.handler") is None  # CDK's own custom resources
    assert set(load_calls()) == {function_name(state) for state in [*HANDLERS, JANITOR]}


def test_each_action_is_simulated_on_a_resource_of_the_stack() -> None:
    plan = simulation_plan(
        load_calls()["JanitorFunction"] + ("logs:GetLogEvents", "s3:GetObject", "s3:PutObject", "sns:Publish",
                                           "secretsmanager:GetSecretValue", "pricing:GetProducts"),
        stack_info(),
        input_key=INPUT_KEY,
        secret_arn=SECRET,
    )  # fmt: skip
    by_action = {action: simulation for simulation in plan for action in simulation.actions}
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/infercost-results"
    assert (
        by_action["dynamodb:Query"]
        == by_action["dynamodb:UpdateItem"]
        == Simulation(("dynamodb:Query", "dynamodb:UpdateItem"), (table,))
    )
    endpoint = by_action["sagemaker:DeleteEndpoint"]
    assert endpoint.resources == (f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/infercost-doctor-check",)
    assert endpoint.context == (("sagemaker:ResourceTag/infercost:run-id", "doctor-check"),)
    assert "sagemaker:ListTags" in endpoint.actions
    assert (
        by_action["sagemaker:DeleteEndpointConfig"]
        .resources[0]
        .endswith(":endpoint-config/infercost-doctor-check")
    )
    assert by_action["sagemaker:DeleteModel"].resources[0].endswith(":model/infercost-doctor-check")
    listing = by_action["sagemaker:ListEndpoints"]
    assert listing.resources == () and "pricing:GetProducts" in listing.actions
    assert "ResourceArns" not in listing.parameters("arn:role")
    assert by_action["states:DescribeExecution"].resources == (
        f"arn:aws:states:{REGION}:{ACCOUNT}:execution:infercost-evaluate:doctor-check",
    )
    assert by_action["logs:GetLogEvents"].resources == (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/infercost-doctor-check"
        ":log-stream:AllTraffic/doctor-check",
    )
    reports = f"arn:aws:s3:::{BUCKET}/reports/infercost-doctor-check.html"
    assert by_action["s3:GetObject"].resources == (f"arn:aws:s3:::{BUCKET}/{INPUT_KEY}", reports)
    assert by_action["s3:PutObject"].resources == (reports,)
    assert by_action["secretsmanager:GetSecretValue"].resources == (SECRET,)
    assert by_action["sns:Publish"].resources == (stack_info().output("TopicArn"),)
    parameters = endpoint.parameters("arn:role")
    assert parameters["ContextEntries"] == [
        {"ContextKeyName": "sagemaker:ResourceTag/infercost:run-id", "ContextKeyValues": ["doctor-check"],
         "ContextKeyType": "string"}
    ]  # fmt: skip


@pytest.fixture
def functions(moto_aws: None) -> dict[str, str]:
    """moto Lambda functions like the stack's (and one of CDK's), each with its role: name -> role ARN."""
    iam = boto3.client("iam", region_name=REGION)
    lambdas = boto3.client("lambda", region_name=REGION)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.py", "")
    roles = {}
    for state, module in [*HANDLERS.items(), (JANITOR, JANITOR), ("Custom", "")]:
        name = function_name(state)
        role = iam.create_role(RoleName=f"{name}Role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lambdas.create_function(
            FunctionName=f"infercost-{name}-A1B2",
            Role=role,
            Handler=handler_path(module) if module else "index.handler",
            Runtime="python3.12",
            Code={"ZipFile": buffer.getvalue()},
        )
        if module:
            roles[name] = role
    return roles


def stack_resources(names: list[str]) -> Any:
    """A CloudFormation client whose ListStackResources lists these Lambda functions."""
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    stubber = Stubber(cloudformation)
    summaries = [
        {"LogicalResourceId": f"Functions{name}", "PhysicalResourceId": f"infercost-{name}-A1B2",
         "ResourceType": "AWS::Lambda::Function", "LastUpdatedTimestamp": "2026-11-01T00:00:00Z",
         "ResourceStatus": "CREATE_COMPLETE"}
        for name in names
    ] + [{"LogicalResourceId": "Bucket", "PhysicalResourceId": BUCKET, "ResourceType": "AWS::S3::Bucket",
          "LastUpdatedTimestamp": "2026-11-01T00:00:00Z", "ResourceStatus": "CREATE_COMPLETE"}]  # fmt: skip
    stubber.add_response(
        "list_stack_resources", {"StackResourceSummaries": summaries}, {"StackName": "infercost"}
    )
    stubber.activate()
    return cloudformation


def roles_check(functions: dict[str, str], denied: dict[str, dict[str, str]] | None = None, *, listed: list[str] | None = None) -> list[Any]:  # fmt: skip
    names = [*(listed if listed is not None else functions), "CustomFunction"]
    cloudformation = stack_resources(names)
    found = stack_functions(cloudformation, boto3.client("lambda", region_name=REGION), "infercost")
    assert set(found) == set(functions)  # CDK's own function is not ours
    iam = boto3.client("iam", region_name=REGION)
    roles = {name: found[name].role_arn for name in found}
    with stub_simulations(
        iam, stack_info(), roles, load_calls(), input_key=INPUT_KEY, secret_arn=SECRET, denied=denied
    ) as stubber:
        checks = check_roles(
            stack_resources(names), boto3.client("lambda", region_name=REGION), iam, stack_info(),
            input_key=INPUT_KEY, secret_arn=SECRET,
        )  # fmt: skip
        stubber.assert_no_pending_responses()
    return checks


def test_roles_that_allow_every_call_pass(functions: dict[str, str]) -> None:
    (check,) = roles_check(functions)
    actions = sum(len(actions) for actions in load_calls().values())
    assert check.status == "ok" and check.detail.startswith(
        f"10 functions' roles allow the {actions} actions"
    )


def test_a_denied_action_names_the_function_and_the_fix(functions: dict[str, str]) -> None:
    checks = roles_check(
        functions,
        {"NotifyFunction": {"secretsmanager:GetSecretValue": "implicitDeny"},
         "JanitorFunction": {"sagemaker:DeleteEndpoint": "explicitDeny"}},
    )  # fmt: skip
    by_name = {check.name: check for check in checks}
    assert set(by_name) == {"Role of JanitorFunction", "Role of NotifyFunction"}
    notify = by_name["Role of NotifyFunction"]
    assert notify.status == "fail" and notify.fix == REDEPLOY
    assert (
        notify.detail == "role NotifyFunctionRole does not allow secretsmanager:GetSecretValue (implicitDeny)"
    )
    janitor = by_name["Role of JanitorFunction"]
    assert "sagemaker:DeleteEndpoint (explicitDeny)" in janitor.detail and janitor.fix == EXPLICIT_DENY


def test_a_function_missing_from_the_stack_or_deleted_by_hand_fails(functions: dict[str, str]) -> None:
    boto3.client("lambda", region_name=REGION).delete_function(FunctionName="infercost-NotifyFunction-A1B2")
    listed = [name for name in functions if name != "ReportFunction"]
    checks = roles_check(
        {name: functions[name] for name in listed if name != "NotifyFunction"}, listed=listed
    )
    assert [(c.name, c.status, c.detail, c.fix) for c in checks] == [
        ("Role of NotifyFunction", "fail", "the stack has no such function", REDEPLOY),
        ("Role of ReportFunction", "fail", "the stack has no such function", REDEPLOY),
    ]


def test_an_scp_or_boundary_is_named() -> None:
    from infercost.data.doctor_roles import simulate

    iam = boto3.client("iam", region_name=REGION)
    role = f"arn:aws:iam::{ACCOUNT}:role/NotifyRole"
    simulation = Simulation(("sns:Publish",), (stack_info().output("TopicArn") or "",))
    answer = {"EvaluationResults": [{
        "EvalActionName": "sns:Publish", "EvalDecision": "implicitDeny",
        "ResourceSpecificResults": [{"EvalResourceName": "topic", "EvalResourceDecision": "implicitDeny"}],
        "OrganizationsDecisionDetail": {"AllowedByOrganizations": False},
        "PermissionsBoundaryDecisionDetail": {"AllowedByPermissionsBoundary": False},
        "MissingContextValues": ["aws:SourceIp"],
    }]}  # fmt: skip
    with Stubber(iam) as stubber:
        stubber.add_response("simulate_principal_policy", answer, simulation.parameters(role))
        (denial,) = simulate(iam, role, simulation)
    assert denial.describe() == (
        "sns:Publish (implicitDeny: an organization SCP denies it; the role's permissions boundary denies it; "
        "allowed only with aws:SourceIp)"
    )


def test_a_caller_who_may_not_simulate_gets_a_warning(functions: dict[str, str]) -> None:
    iam = new_client("iam", region=REGION)
    with Stubber(iam) as stubber:
        stubber.add_client_error("simulate_principal_policy", "AccessDenied", "not authorized", 403)
        checks = check_roles(
            stack_resources(list(functions)), boto3.client("lambda", region_name=REGION), iam, stack_info(),
            input_key=INPUT_KEY, secret_arn=SECRET,
        )  # fmt: skip
    assert [(c.status, c.name) for c in checks] == [("warn", "Function roles")]
    assert "iam:SimulatePrincipalPolicy" in checks[0].detail and "iam:SimulatePrincipalPolicy" in str(
        checks[0].fix
    )


# --- images ---------------------------------------------------------------------------------

OWN = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"


@pytest.fixture
def ecr(moto_aws: None) -> Any:
    client = boto3.client("ecr", region_name=REGION)
    client.create_repository(repositoryName="team/model")
    client.put_image(
        repositoryName="team/model",
        imageManifest=index("amd64"),
        imageTag="x86",
        imageManifestMediaType=OCI_INDEX,
    )
    client.put_image(repositoryName="team/model", imageManifest=index("amd64", "arm64"), imageTag="multi", imageManifestMediaType=OCI_INDEX)  # fmt: skip
    return client


def spec_with(images: dict[str, str], candidates: list[dict[str, Any]]) -> EvaluationSpec:
    return spec(model={"name": "resnet", "images": images}, candidates=candidates)


def test_an_index_with_the_instances_architecture_passes(ecr: Any) -> None:
    the_spec = spec_with({"cpu": f"{OWN}/team/model:multi", "arm64": f"{OWN}/team/model:multi"},
                         [{"instance_type": "ml.c6i.large"}, {"instance_type": "ml.c7g.large"}])  # fmt: skip
    (check,) = check_images(the_spec, lambda region: ecr)
    assert check.status == "ok" and check.name == "Image team/model:multi"
    assert check.detail == "linux/amd64, linux/arm64: runs on ml.c6i.large, ml.c7g.large"


def test_an_x86_only_image_on_graviton_is_a_blocker(ecr: Any) -> None:
    the_spec = spec_with({"cpu": f"{OWN}/team/model:x86", "arm64": f"{OWN}/team/model:x86"},
                         [{"instance_type": "ml.c6i.large"}, {"instance_type": "ml.c7g.large"}])  # fmt: skip
    (check,) = check_images(the_spec, lambda region: ecr)
    assert check.status == "fail"
    assert (
        check.detail
        == "is built for linux/amd64: ml.c7g.large needs arm64 (Graviton), which it cannot run on"
    )
    assert (
        check.fix
        == "use an image built for linux/arm64 (or a multi-platform one) in model.images.arm64, model.images.cpu"
    )


def test_an_image_ecr_does_not_have_is_a_blocker(ecr: Any) -> None:
    for uri in (f"{OWN}/team/model:v404", f"{OWN}/team/nothing:v1", f"{OWN}/team/model@sha256:{'f' * 64}"):
        the_spec = spec(model={"name": "resnet", "image_uri": uri})
        (check,) = check_images(the_spec, lambda region: ecr)
        assert check.status == "fail" and check.fix == "push the image, or correct model.image_uri"


def single(ecr: Any, uri: str, config: bytes | Exception) -> Any:
    """check_image on a single-platform manifest whose config blob reads as `config`."""
    manifest = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": "sha256:cfg", "size": 9},
                "layers": []}  # fmt: skip
    with Stubber(ecr) as stubber:
        stubber.add_response("batch_get_image", {"images": [{"imageManifest": json.dumps(manifest),
                                                             "imageManifestMediaType": DOCKER_MANIFEST}], "failures": []})  # fmt: skip
        stubber.add_response("get_download_url_for_layer", {"downloadUrl": "https://s3/cfg", "layerDigest": "sha256:cfg"},
                             {"registryId": ACCOUNT, "repositoryName": "team/model", "layerDigest": "sha256:cfg"})  # fmt: skip

        def fetch(url: str) -> bytes:
            assert url == "https://s3/cfg"
            if isinstance(config, Exception):
                raise config
            return config

        the_spec = spec_with({"cpu": uri, "arm64": uri}, [{"instance_type": "ml.c7g.large"}])
        return check_image(uri, image_uses(the_spec)[uri], ecr, fetch)


def test_a_single_platform_image_is_judged_by_its_config() -> None:
    ecr = boto3.client("ecr", region_name=REGION)
    uri = f"{OWN}/team/model:one"
    assert single(ecr, uri, json.dumps({"os": "linux", "architecture": "arm64"}).encode()).status == "ok"
    check = single(ecr, uri, json.dumps({"os": "linux", "architecture": "amd64"}).encode())
    assert check.status == "fail" and "linux/amd64" in check.detail
    check = single(ecr, uri, OSError("connection reset"))
    assert check.status == "warn" and "single-platform image: its architecture is not listed" in check.detail


def test_a_registry_that_refuses_is_a_warning_and_the_offline_check_still_judges() -> None:
    graviton = EXAMPLE_IMAGES["cpu"]  # an x86 Deep Learning Container on a Graviton instance
    the_spec = spec_with({"arm64": graviton}, [{"instance_type": "ml.c7g.large"}])
    ecr = new_client("ecr", region=REGION)
    with Stubber(ecr) as stubber:
        stubber.add_client_error("batch_get_image", "AccessDeniedException", "no cross-account read", 400)
        offline, online = check_images(the_spec, lambda region: ecr)
    assert offline.status == "fail" and offline.name == "Image of candidates[0]"
    assert (
        "cannot run there" in offline.detail
        and offline.fix is not None
        and offline.fix.startswith("set model.images.arm64")
    )
    assert online.status == "warn" and "judged by its name only" in online.detail
    assert "ecr:BatchGetImage" in str(online.fix)


def test_short_image_names() -> None:
    assert short_name(f"{OWN}/team/model:v1") == "team/model:v1"
    assert short_name(f"{OWN}/team/model@sha256:{'a' * 64}") == "team/model@sha256:aaaaaaaaaaaa…"
