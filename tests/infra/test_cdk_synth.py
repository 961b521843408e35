"""The app synthesizes offline, quickly, cleanly: cdk-nag and cfn-lint find nothing to fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.infra.cdk_support import ROOT, Synth, run_app

pytestmark = pytest.mark.infra


def test_synthesizes_offline_in_under_a_minute(synth: Synth) -> None:
    assert synth.returncode == 0
    assert synth.seconds < 60, f"synthesis took {synth.seconds:.1f} s"


def test_cdk_nag_reports_no_unacknowledged_finding(synth: Synth) -> None:
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    violations = [
        violation["ruleName"]
        for plugin in report["pluginReports"]
        for violation in plugin.get("violations", [])
    ]
    assert violations == []


def test_every_acknowledgment_gives_a_reason(synth: Synth) -> None:
    metadata = json.loads((synth.outdir / "infercost.metadata.json").read_text())
    acknowledged = {
        rule: reason
        for entries in metadata.values()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule, reason in entry["data"].items()
    }
    assert acknowledged, "the stack acknowledges its wildcards; none recorded means cdk-nag saw none"
    short = {rule: reason for rule, reason in acknowledged.items() if len(reason.split()) < 5}
    assert short == {}


def test_cfn_lint_finds_no_error(synth: Synth, template: dict[str, Any]) -> None:
    from cfnlint.api import lint_all

    matches = lint_all(json.dumps(template))
    errors = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]
    assert errors == []
    # The only warning is the DependsOn CDK itself adds beside a role's GetAtt.
    assert {m.rule.id for m in matches if m.rule.id.startswith("W")} <= {"W3005"}


def test_outputs_name_what_the_cli_looks_up(template: dict[str, Any]) -> None:
    from infra.infercost_stack import OUTPUTS

    assert set(template["Outputs"]) == set(OUTPUTS)
    assert {
        "ArtifactsBucketName",
        "ResultsTableName",
        "StateMachineArn",
        "TopicArn",
        "SlackSecretArn",
    } <= set(OUTPUTS)


def test_a_bad_context_value_fails_with_one_line_naming_the_key(tmp_path: Path) -> None:
    # Run from infra/ too: the app must not depend on the working directory.
    result = run_app(tmp_path, {"infercost:max_concurrency": 0}, cwd=ROOT / "infra")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("infercost: infercost:max_concurrency: ")
    assert "greater than or equal to 1" in lines[0]
