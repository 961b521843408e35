"""Each cdk-nag acknowledgment in the code answers a real finding, and each finding has one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.cdk_support import TEST_CONTEXT

pytestmark = pytest.mark.infra


def test_acknowledgments_and_findings_match_one_to_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_cdk import App
    from cdk_nag import AwsSolutionsChecks

    from infra import nag
    from infra.app import build, cdk_json_context

    acknowledged: list[tuple[str, str]] = []

    def record(scope: Any, rule: str, reason: str) -> None:
        acknowledged.append((scope.node.path, rule))

    # Build the app with every acknowledgment recorded instead of applied, then let cdk-nag
    # report everything it finds.
    monkeypatch.setattr(nag, "acknowledge", record)
    app = App(context={**cdk_json_context(), **TEST_CONTEXT})
    build(app)
    report = AwsSolutionsChecks().validate_scope(app)
    findings = {
        (violation.rule_name, resource.construct_path)
        for violation in report.violations
        for resource in violation.violating_resources
    }
    assert findings, "cdk-nag finds the stack's justified wildcards"

    def covers(scope_path: str, rule: str, finding: tuple[str, str]) -> bool:
        name, path = finding
        return name == rule and (path == scope_path or path.startswith(scope_path + "/"))

    stale = [(path, rule) for path, rule in acknowledged if not any(covers(path, rule, f) for f in findings)]
    missing = [f for f in findings if not any(covers(path, rule, f) for path, rule in acknowledged)]
    assert stale == [], "acknowledgments that no finding needs"
    assert missing == [], "findings without an acknowledgment"
