"""Each alarm on a custom metric watches what a function really emits.

CloudWatch matches a metric by namespace, name and the exact set of dimensions
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Dimension:
"CloudWatch treats each unique combination of dimensions as a separate metric"). An alarm whose
dimensions differ by one value gets no data at all, and with missing data treated as breaching
it alarms forever. So the test runs the emitting handler in-process with the environment the
template gives its function, reads the embedded metric format (EMF) record it prints, and
compares it with the alarm. The template is synthesized with a resource prefix other than the
default (conftest's `options_template`), where a hard-coded service name would show.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from tests.infra.cdk_support import OPTIONS_CONTEXT, ROOT, resources_of

pytestmark = pytest.mark.infra

HANDLERS_DIR = ROOT / "functions" / "infercost" / "handlers"
ACCOUNT = "123456789012"
REGION = "us-east-1"
# Fake physical ids of the template's Ref/GetAtt values, by resource type.
_REF = {
    "AWS::DynamoDB::Table": "{id}",
    "AWS::S3::Bucket": "{lower}",
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{id}",
    "AWS::SecretsManager::Secret": "arn:aws:secretsmanager:{region}:{account}:secret:{id}-AbCdEf",
}
_ARN = {
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{id}",
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{id}",
}
_PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"}


def fake_value(value: Any, template: dict[str, Any]) -> str:
    """A deployed-looking value for a template value: Ref and GetAtt become fake names and ARNs."""
    if isinstance(value, str):
        return value
    [(function, argument)] = value.items()
    if function == "Ref" and argument in _PSEUDO:
        return _PSEUDO[argument]
    if function == "Fn::Join":
        separator, parts = argument
        return str(separator).join(fake_value(part, template) for part in parts)
    name = argument if function == "Ref" else argument[0]
    kind = template["Resources"][name]["Type"]
    formats = _REF if function == "Ref" else _ARN
    assert kind in formats, f"no fake value for {function} of a {kind}; add one"
    return formats[kind].format(id=name, lower=name.lower(), region=REGION, account=ACCOUNT)


def custom_metric_alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Alarms on metrics the stack publishes itself (not an AWS/* namespace)."""
    return {
        name: alarm["Properties"]
        for name, alarm in resources_of(template, "AWS::CloudWatch::Alarm").items()
        if not alarm["Properties"]["Namespace"].startswith("AWS/")
    }


def emitting_module(metric_name: str) -> str:
    """The one handler module whose source adds the metric, e.g. 'janitor'."""
    pattern = re.compile(rf"add_metric\(\s*name=\"{re.escape(metric_name)}\"")
    found = [p.stem for p in sorted(HANDLERS_DIR.glob("*.py")) if pattern.search(p.read_text())]
    assert len(found) == 1, f"{metric_name}: emitted by {found or 'no handler'}"
    return found[0]


def function_of(template: dict[str, Any], module: str) -> tuple[str, dict[str, Any]]:
    [(name, function)] = [
        (name, f["Properties"])
        for name, f in resources_of(template, "AWS::Lambda::Function").items()
        if f["Properties"].get("Handler") == f"infercost.handlers.{module}.handler"
    ]
    return name, function


def scheduled_event(template: dict[str, Any], function: str) -> dict[str, Any]:
    """What the EventBridge rule that invokes `function` sends it."""
    targets = [
        target
        for rule in resources_of(template, "AWS::Events::Rule").values()
        for target in rule["Properties"].get("Targets", [])
        if target["Arn"] == {"Fn::GetAtt": [function, "Arn"]}
    ]
    assert len(targets) == 1, f"{function}: no single rule invokes it; give the test its event"
    event: dict[str, Any] = json.loads(targets[0]["Input"])
    return event


def emf_records(printed: str) -> list[dict[str, Any]]:
    """The CloudWatch embedded metric format records among the printed lines."""
    records = []
    for line in printed.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if "CloudWatchMetrics" in record.get("_aws", {}):
                records.append(record)
    return records


@pytest.fixture
def handler_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fresh settings and AWS clients, and handler modules imported anew (they read the
    environment at import), restored afterwards for the other tests."""
    from infercost.data import clients as aws
    from infercost.handlers._shared import reset_settings

    saved = {name: module for name, module in sys.modules.items() if name.startswith("infercost.handlers")}
    for name in saved:
        monkeypatch.delitem(sys.modules, name)
    reset_settings()
    aws.clear_clients()
    yield
    reset_settings()
    aws.clear_clients()


def run_handler(
    module: str, environment: dict[str, str], event: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    handler = importlib.import_module(f"infercost.handlers.{module}").handler
    context = SimpleNamespace(
        function_name=f"{module}-function",
        memory_limit_in_mb=256,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{module}-function",
        aws_request_id="00000000-0000-0000-0000-000000000000",
        get_remaining_time_in_millis=lambda: 300_000,
    )
    handler(event, context)


def test_the_prefix_differs_from_the_default() -> None:
    # Otherwise a service name hard-coded to the default would pass unnoticed.
    assert OPTIONS_CONTEXT["infercost:resource_prefix"] != "infercost"


def test_every_custom_metric_alarm_watches_what_its_function_emits(
    options_template: dict[str, Any],
    handler_environment: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import boto3
    from moto import mock_aws

    from infercost.data.store import create_table

    alarms = custom_metric_alarms(options_template)
    assert alarms, "the stack alarms on the janitor's EndpointsOverMaxAge"
    for alarm_name, alarm in alarms.items():
        module = emitting_module(alarm["MetricName"])
        function, properties = function_of(options_template, module)
        environment = {
            variable: fake_value(value, options_template)
            for variable, value in properties["Environment"]["Variables"].items()
        }
        with mock_aws():
            create_table(boto3.client("dynamodb", region_name=REGION), environment["INFERCOST_TABLE_NAME"])
            capsys.readouterr()
            run_handler(module, environment, scheduled_event(options_template, function), monkeypatch)
            printed = capsys.readouterr().out

        emitted = [
            (directive["Namespace"], metric["Name"], {name: record[name] for name in dimensions})
            for record in emf_records(printed)
            for directive in record["_aws"]["CloudWatchMetrics"]
            for dimensions in directive["Dimensions"]
            for metric in directive["Metrics"]
        ]
        watched = (
            alarm["Namespace"],
            alarm["MetricName"],
            {d["Name"]: fake_value(d["Value"], options_template) for d in alarm["Dimensions"]},
        )
        assert watched in emitted, f"{alarm_name} watches {watched}; {module} emits {emitted}"


def test_fake_values_look_deployed(options_template: dict[str, Any]) -> None:
    table = next(iter(resources_of(options_template, "AWS::DynamoDB::Table")))
    assert fake_value({"Ref": table}, options_template) == table
    joined = {"Fn::Join": [":", [{"Ref": "AWS::Partition"}, {"Ref": "AWS::Region"}, "x"]]}
    assert fake_value(joined, options_template) == "aws:us-east-1:x"
