"""Helpers of the infrastructure tests: run the CDK app, find resources in its template."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Tests only: skip pip-building the dependency layers, which needs the network.
TEST_CONTEXT = {"infercost:bundle": False}
# Every optional key set, and a prefix other than the default (conftest's `options_template`).
OPTIONS_ROLE = "arn:aws:iam::123456789012:role/TeamSageMakerRole"
OPTIONS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OPTIONS_CONTEXT: dict[str, Any] = {
    "infercost:execution_role_arn": OPTIONS_ROLE,
    "infercost:slack_secret_name": "team/slack-webhook",
    "infercost:notification_email": "ml-team@example.com",
    "infercost:resource_prefix": "bench",
    "infercost:kms_key_arn": OPTIONS_KEY,
}


@dataclass(frozen=True)
class Synth:
    """One run of `python infra/app.py` and what it left in its output folder."""

    outdir: Path
    returncode: int
    stderr: str
    seconds: float

    @property
    def template(self) -> dict[str, Any]:
        manifest = json.loads((self.outdir / "manifest.json").read_text())
        stacks = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
        assert len(stacks) == 1, "the app defines exactly one stack"
        template_file = stacks[0]["properties"]["templateFile"]
        data: dict[str, Any] = json.loads((self.outdir / template_file).read_text())
        return data

    def asset(self, key: str) -> Path:
        return self.outdir / f"asset.{key}"


class AppRun:
    """`python infra/app.py` running in the background, the way the CDK CLI runs it."""

    def __init__(self, outdir: Path, context: dict[str, Any], cwd: Path = ROOT):
        env = {**os.environ, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(context)}
        self.outdir = outdir
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "infra" / "app.py")],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._result: Synth | None = None

    def result(self, timeout: float = 300) -> Synth:
        if self._result is None:
            try:
                _, stderr = self.process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise
            seconds = time.monotonic() - self.started
            self._result = Synth(self.outdir, self.process.returncode, stderr, seconds)
        return self._result


def run_app(outdir: Path, context: dict[str, Any], cwd: Path = ROOT) -> Synth:
    """Run the real entry point and wait for it."""
    return AppRun(outdir, context, cwd).result()


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for every resource of one CloudFormation type."""
    return {k: r for k, r in template["Resources"].items() if r["Type"] == resource_type}


def only(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    found = resources_of(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def logical_id(template: dict[str, Any], resource_type: str, path: str) -> str:
    """The logical id of the resource at construct path `path` (e.g. 'FunctionsPrepareFunction').

    CDK derives logical ids from the construct path plus an eight-character hash.
    """
    matches = [k for k in resources_of(template, resource_type) if re.fullmatch(f"{path}[0-9A-F]{{8}}", k)]
    assert len(matches) == 1, f"{resource_type} at {path!r}: {matches}"
    return matches[0]


def text(value: Any) -> str:
    """A CloudFormation value as text: Ref -> '${Name}', GetAtt -> '${Name.Attr}', Join joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        [(function, argument)] = value.items()
        if function == "Ref":
            return f"${{{argument}}}"
        if function == "Fn::GetAtt":
            return f"${{{argument[0]}.{argument[1]}}}"
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(text(part) for part in parts)
    return json.dumps(value, sort_keys=True)


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Statement:
    """One IAM statement of an identity policy, with the roles it is attached to."""

    policy: str
    roles: tuple[str, ...]
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: dict[str, Any]
    effect: str


def identity_statements(template: dict[str, Any]) -> list[Statement]:
    """Every statement of every AWS::IAM::Policy in the template."""
    statements = []
    for name, policy in resources_of(template, "AWS::IAM::Policy").items():
        roles = tuple(text(role) for role in policy["Properties"].get("Roles", []))
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            statements.append(
                Statement(
                    policy=name,
                    roles=roles,
                    actions=tuple(listed(statement["Action"])),
                    resources=tuple(text(r) for r in listed(statement["Resource"])),
                    conditions=statement.get("Condition", {}),
                    effect=statement["Effect"],
                )
            )
    return statements
