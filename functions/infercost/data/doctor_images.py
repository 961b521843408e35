"""`infercost doctor`: does each candidate's image exist, and is it built for its instance's CPU?

Offline first: AWS Deep Learning Container names say what they are built for
(`EvaluationSpec.image_findings`; an error there is a blocker). Then ECR: BatchGetImage returns
the image's manifest, accepting a multi-platform index as it is. An index lists its platforms; a
single-platform manifest names its config blob, whose `architecture` GetDownloadUrlForLayer
(a pre-signed S3 URL) makes readable. Each candidate needs its instance's architecture
(`hardware_of`: arm64 on Graviton, x86_64 elsewhere) among the image's Linux platforms. A
registry the caller may not read (a Deep Learning Containers account can refuse) is a warning: the
image is then judged by its name only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infercost.data.clients import PermissionDenied
from infercost.domain.doctor import (
    ACCEPTED_MEDIA_TYPES,
    Check,
    Manifest,
    architectures,
    caller_fix,
    config_platform,
    error_text,
    fail,
    ok,
    read_manifest,
    warn,
)
from infercost.domain.hardware import Architecture, ImageReference, dlc_accounts, hardware_of, parse_image
from infercost.domain.models import Candidate, EvaluationSpec

Fetch = Callable[[str], bytes]
# An image config is a few kilobytes; nothing larger is read.
MAX_CONFIG_BYTES = 1 << 20
FETCH_TIMEOUT_S = 10.0
_PLATFORM_OF: dict[Architecture, str] = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
_WORDS: dict[Architecture, str] = {"x86_64": "x86_64", "arm64": "arm64 (Graviton)"}


class _Unreadable(Exception):
    """The manifest could not be read: the reason, and the caller's missing action if that is why."""

    def __init__(self, reason: str, action: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.action = action


class _Missing(Exception):
    """ECR says the repository or the image does not exist."""


def fetch_url(url: str) -> bytes:
    """GET a pre-signed HTTPS URL (an ECR blob in S3), at most MAX_CONFIG_BYTES."""
    import urllib.request

    if not url.startswith("https://"):
        raise ValueError("ECR gave a download URL that is not https")
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:  # https checked above
        data: bytes = response.read(MAX_CONFIG_BYTES)
        return data


def short_name(image_uri: str) -> str:
    """'<account>.dkr.ecr.<region>.amazonaws.com/team/model:v1' -> 'team/model:v1'."""
    name = image_uri.split("/", 1)[-1]
    if "@sha256:" in name:
        repository, digest = name.split("@sha256:", 1)
        return f"{repository}@sha256:{digest[:12]}…"
    return name


def image_uses(spec: EvaluationSpec) -> dict[str, list[tuple[Candidate, str]]]:
    """Each image of the spec -> the candidates that run it, with the JSON path naming it."""
    uses: dict[str, list[tuple[Candidate, str]]] = {}
    for index, candidate in enumerate(spec.candidates):
        image, source = spec.image_source(index)
        if image is not None:
            uses.setdefault(image, []).append((candidate, source))
    return uses


def offline_checks(spec: EvaluationSpec) -> list[Check]:
    """The Deep Learning Container verdicts of `infercost spec validate`, as checks."""
    checks = []
    for finding in spec.image_findings():
        name = f"Image of {finding.path}"
        if finding.level == "error":
            detail, _, fix = finding.message.partition(": set ")
            checks.append(fail(name, detail, f"set {fix}" if fix else "use an image built for this hardware"))
        else:
            checks.append(warn(name, finding.message))
    return checks


def _manifest(ecr: Any, image: ImageReference) -> tuple[Manifest, dict[str, Any]]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = ecr.batch_get_image(
            registryId=image.account,
            repositoryName=image.repository,
            imageIds=[image.image_id()],
            acceptedMediaTypes=list(ACCEPTED_MEDIA_TYPES),
        )
    except PermissionDenied as denied:
        raise _Unreadable(denied.message, str(denied.field)) from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "RepositoryNotFoundException":
            raise _Missing(f"ECR has no repository {image.repository} in account {image.account}") from None
        raise _Unreadable(error_text(error)) from None
    except BotoCoreError as error:
        raise _Unreadable(str(error)) from None
    for failure in answer.get("failures", []):
        if failure.get("failureCode") in ("ImageNotFound", "ImageTagDoesNotMatchDigest"):
            raise _Missing(
                f"{failure.get('failureReason') or failure.get('failureCode')} in {image.repository}"
            )
        raise _Unreadable(f"{failure.get('failureCode')}: {failure.get('failureReason', '')}".rstrip(": "))
    images = answer.get("images") or []
    if not images:
        raise _Missing(f"ECR returned no manifest for it in {image.repository}")
    found: dict[str, Any] = images[0]
    try:
        return read_manifest(str(found.get("imageManifest", "")), found.get("imageManifestMediaType")), found
    except ValueError as error:
        raise _Unreadable(str(error)) from None


def _config_platform(ecr: Any, image: ImageReference, digest: str, fetch: Fetch) -> tuple[str | None, str]:
    """The platform in the image's config blob, or None and why not."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        url = ecr.get_download_url_for_layer(
            registryId=image.account, repositoryName=image.repository, layerDigest=digest
        )["downloadUrl"]
        platform = config_platform(fetch(url))
    except PermissionDenied as denied:
        return None, denied.message
    except (ClientError, BotoCoreError, OSError, ValueError, KeyError) as error:
        return None, error_text(error)
    return platform, "" if platform else "the config names no architecture"


def platforms_of(ecr: Any, image: ImageReference, fetch: Fetch) -> tuple[tuple[str, ...], str]:
    """The image's platforms ('linux/amd64', …) and, when there are none, why not."""
    manifest, _ = _manifest(ecr, image)
    if manifest.platforms or manifest.config_digest is None:
        return manifest.platforms, "" if manifest.platforms else "its manifest lists no platform"
    platform, why = _config_platform(ecr, image, manifest.config_digest, fetch)
    return ((platform,) if platform else ()), why


def check_image(image_uri: str, users: list[tuple[Candidate, str]], ecr: Any, fetch: Fetch) -> Check:
    """One image against every candidate that runs it."""
    name = f"Image {short_name(image_uri)}"
    paths = ", ".join(sorted({path for _, path in users}))
    image = parse_image(image_uri)
    if image is None:  # the spec accepts ECR images only
        return fail(name, "is not an ECR image", f"push it to ECR and set {paths} to its URI")
    try:
        platforms, why = platforms_of(ecr, image, fetch)
    except _Missing as missing:
        return fail(name, str(missing), f"push the image, or correct {paths}")
    except _Unreadable as unreadable:
        dlc = image.account in dlc_accounts().get(image.region, frozenset())
        judged = " (a Deep Learning Container: judged by its name only)" if dlc else ""
        fix = caller_fix(unreadable.action) if unreadable.action else None
        return warn(name, f"cannot read its manifest: {unreadable.reason}{judged}", fix)
    if not platforms:
        return warn(name, f"single-platform image: its architecture is not listed ({why})")
    available = architectures(platforms)
    misfits: dict[Architecture, list[str]] = {}
    for candidate, _ in users:
        needed = hardware_of(candidate.instance_type).architecture
        if needed not in available:
            misfits.setdefault(needed, []).append(candidate.label)
    built = ", ".join(platforms)
    if misfits:
        needed, labels = next(iter(misfits.items()))
        return fail(
            name,
            f"is built for {built}: {', '.join(labels)} {'needs' if len(labels) == 1 else 'need'} "
            f"{_WORDS[needed]}, which it cannot run on",
            f"use an image built for {_PLATFORM_OF[needed]} (or a multi-platform one) in {paths}",
        )
    return ok(name, f"{built}: runs on " + ", ".join(candidate.label for candidate, _ in users))


def check_images(
    spec: EvaluationSpec, ecr_for: Callable[[str], Any], fetch: Fetch = fetch_url
) -> list[Check]:
    """The offline verdicts, then one check per image from its ECR manifest."""
    checks = offline_checks(spec)
    for image_uri, users in image_uses(spec).items():
        image = parse_image(image_uri)
        ecr = ecr_for(image.region) if image is not None else None
        checks.append(check_image(image_uri, users, ecr, fetch))
    return checks
