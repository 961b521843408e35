"""`infercost doctor`'s verdicts, without AWS: a check's result, image manifests, the Slack secret.

Each check of the deployed stack (`infercost.data.doctor`) ends in one `Check`: `ok`, `fail` (a
blocker: the run would fail or skip a candidate; its `fix` says what to do), `warn` (works, or
could not be checked) or `skip` (needs something that is missing, e.g. the stack or a spec).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from infercost.domain.hardware import Architecture

CheckStatus = Literal["ok", "warn", "fail", "skip"]

# The stack's CloudFormation outputs (infra/infercost_stack.py creates exactly these).
STACK_OUTPUTS = (
    "ArtifactsBucketName",
    "ResultsTableName",
    "StateMachineArn",
    "CandidateStateMachineArn",
    "TopicArn",
    "SlackSecretArn",
    "ExecutionRoleArn",
    "ResourcePrefix",
    "ReportsPrefix",
)


@dataclass(frozen=True)
class Check:
    """One line of the checklist: what was checked, how it went, and the fix for a failure."""

    name: str
    status: CheckStatus
    detail: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def warn(name: str, detail: str, fix: str | None = None) -> Check:
    return Check(name, "warn", detail, fix)


def fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, "fail", detail, fix)


def skip(name: str, detail: str) -> Check:
    return Check(name, "skip", detail)


def blockers(checks: Iterable[Check]) -> list[Check]:
    """The failed checks: any of them and the run cannot go as planned (exit code 1)."""
    return [check for check in checks if check.status == "fail"]


def summary(checks: Sequence[Check]) -> str:
    """'2 blockers, 1 warning, 9 passed' (skipped checks counted when there are any)."""
    counts = {status: sum(1 for check in checks if check.status == status) for status in ("fail", "warn")}
    passed = sum(1 for check in checks if check.status == "ok")
    skipped = sum(1 for check in checks if check.status == "skip")
    parts = [
        _plural(counts["fail"], "blocker"),
        _plural(counts["warn"], "warning"),
        f"{passed} passed",
    ]
    if skipped:
        parts.append(f"{skipped} skipped")
    return ", ".join(parts)


def caller_fix(action: str) -> str:
    """The fix when the doctor itself may not call something: the run does not need it."""
    return f"run the doctor as a principal allowed {action} (docs/deploy.md lists what it reads)"


def error_text(error: Exception) -> str:
    """'Code: message' of an AWS error answer (botocore's ClientError), else the error's text."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        details = response.get("Error", {})
        return f"{details.get('Code', 'Error')}: {details.get('Message', '')}".strip().rstrip(":")
    # Some errors quote a whole response body after their first line.
    lines = str(error).strip().splitlines()
    return lines[0].rstrip(":") if lines else type(error).__name__


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


_STACK_ID = re.compile(
    r"^arn:(?P<partition>[a-z-]+):cloudformation:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):stack/"
)


@dataclass(frozen=True)
class StackInfo:
    """The deployed stack as the checks need it: where it is, and its outputs (those it has)."""

    name: str
    status: str
    region: str
    account: str
    partition: str
    outputs: Mapping[str, str]

    @classmethod
    def from_description(cls, name: str, stack: Mapping[str, Any], outputs: Mapping[str, str]) -> StackInfo:
        """From DescribeStacks' entry (its StackId ARN names partition, region and account)."""
        match = _STACK_ID.match(str(stack.get("StackId", "")))
        partition, region, account = (
            (match["partition"], match["region"], match["account"]) if match else ("aws", "", "")
        )
        return cls(name, str(stack.get("StackStatus", "")), region, account, partition, dict(outputs))

    def output(self, key: str) -> str | None:
        return self.outputs.get(key)

    @property
    def missing_outputs(self) -> list[str]:
        return [key for key in STACK_OUTPUTS if key not in self.outputs]

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        """An ARN of this account: arn(`dynamodb`, `table/x`) -> arn:aws:dynamodb:<region>:<account>:table/x."""
        if not regional:
            return f"arn:{self.partition}:{service}:::{resource}"
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"


# --- image manifests ------------------------------------------------------------------------

DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
# What `infercost doctor` accepts from ECR's BatchGetImage: a multi-platform index as it is (ECR
# would otherwise convert it to one platform's manifest), else the image's own manifest.
ACCEPTED_MEDIA_TYPES = (DOCKER_MANIFEST_LIST, OCI_INDEX, DOCKER_MANIFEST, OCI_MANIFEST, DOCKER_SCHEMA1)
# OCI/Docker architecture names -> the CPU architecture of `hardware.Hardware`.
_ARCHITECTURES: dict[str, Architecture] = {
    "amd64": "x86_64",
    "x86_64": "x86_64",
    "arm64": "arm64",
    "aarch64": "arm64",
}


@dataclass(frozen=True)
class Manifest:
    """What an image manifest says about platforms.

    `index`: a multi-platform image, `platforms` lists each one ('linux/amd64', 'linux/arm64/v8').
    `image`: one platform's manifest; its platform is in the config blob (`config_digest`).
    `schema1`: the legacy Docker format, which names its architecture itself.
    """

    kind: Literal["index", "image", "schema1"]
    platforms: tuple[str, ...] = ()
    config_digest: str | None = None


def read_manifest(text: str, media_type: str | None = None) -> Manifest:
    """Parse a manifest from ECR; ValueError when it is not one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"the manifest is not JSON: {error.msg}") from None
    if not isinstance(data, dict):
        raise ValueError("the manifest is not a JSON object")
    media_type = media_type or data.get("mediaType")
    if media_type in (DOCKER_MANIFEST_LIST, OCI_INDEX) or "manifests" in data:
        platforms = []
        for entry in data.get("manifests") or []:
            platform = (entry.get("platform") or {}) if isinstance(entry, dict) else {}
            name = platform_name(platform)
            # Build attestations are listed as platform unknown/unknown.
            if name is not None and name not in platforms:
                platforms.append(name)
        return Manifest("index", tuple(platforms))
    if data.get("schemaVersion") == 1 or media_type == DOCKER_SCHEMA1:
        name = platform_name({"os": "linux", "architecture": data.get("architecture")})
        return Manifest("schema1", (name,) if name else ())
    config = data.get("config")
    if isinstance(config, dict) and isinstance(config.get("digest"), str):
        return Manifest("image", (), config["digest"])
    raise ValueError("the manifest lists neither platforms nor a config")


def platform_name(platform: Any) -> str | None:
    """{'os': 'linux', 'architecture': 'arm64', 'variant': 'v8'} -> 'linux/arm64/v8'; None if unknown."""
    if not isinstance(platform, dict):
        return None
    system, architecture = platform.get("os"), platform.get("architecture")
    if not isinstance(architecture, str) or not architecture or architecture == "unknown":
        return None
    system = system if isinstance(system, str) and system else "linux"
    if system == "unknown":
        return None
    variant = platform.get("variant")
    return f"{system}/{architecture}" + (f"/{variant}" if isinstance(variant, str) and variant else "")


def config_platform(text: str | bytes) -> str | None:
    """The platform an image config blob names ('linux/amd64'), or None."""
    try:
        data = json.loads(text)
    except (ValueError, TypeError):
        return None
    return platform_name(data) if isinstance(data, dict) else None


def architectures(platforms: Iterable[str]) -> set[Architecture]:
    """The CPU architectures among Linux platforms: {'linux/amd64', 'linux/arm64/v8'} -> {x86_64, arm64}."""
    found: set[Architecture] = set()
    for platform in platforms:
        parts = platform.split("/")
        if len(parts) >= 2 and parts[0] == "linux" and parts[1] in _ARCHITECTURES:
            found.add(_ARCHITECTURES[parts[1]])
    return found


# --- the Slack secret -------------------------------------------------------------------------

SLACK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def slack_fix(secret_id: str = "<SlackSecretArn>") -> str:
    return (
        "put the incoming-webhook URL from Slack into the secret: aws secretsmanager put-secret-value "
        f"--secret-id {secret_id} --secret-string 'https://hooks.slack.com/services/...'"
    )


def slack_secret_check(name: str, text: str, secret_id: str = "<SlackSecretArn>") -> Check:
    """The verdict on the secret's value (the URL itself, or JSON with `webhook_url`).

    Unset or the deploy's random placeholder: Slack is off (a warning: it is optional). A Slack
    incoming-webhook URL (or the local stack's loopback receiver): fine. Anything else was meant
    as a webhook but would not reach Slack: a blocker. The URL is a secret: only its host is shown.
    """
    fix = slack_fix(secret_id)
    value = text.strip()
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except json.JSONDecodeError:
            return fail(name, "holds text that starts like JSON but is not JSON", fix)
        found = (data.get("webhook_url") or data.get("url")) if isinstance(data, dict) else None
        if not isinstance(found, str) or not found.strip():
            return fail(name, "holds JSON without a webhook_url", fix)
        value = found.strip()
    elif not value:
        return warn(name, "is empty: notifications go to SNS only", fix)
    elif "://" not in value and "slack" not in value.lower():
        return warn(name, "holds the deploy's placeholder, not a URL: notifications go to SNS only", fix)
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme == "https" and host in SLACK_HOSTS and parts.path.strip("/"):
        return ok(name, f"a Slack incoming webhook (https://{host}/…)")
    if parts.scheme == "http" and host in _LOOPBACK_HOSTS:
        return ok(name, f"a webhook on this machine (http://{host}:{parts.port or 80}/…, the local stack)")
    shown = f"{parts.scheme}://{host}/…" if parts.scheme and host else "a value"
    return fail(name, f"holds {shown}, not a Slack incoming-webhook URL (https://hooks.slack.com/…)", fix)
