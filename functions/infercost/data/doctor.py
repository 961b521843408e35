"""`infercost doctor`: is the account ready for a run, before any endpoint is created?

Each check reads what it needs through the clients it is given (the CLI's, or moto's and botocore
Stubber's in the tests) and ends in a `Check` (`infercost.domain.doctor`): the stack and its
outputs, the bucket's events to EventBridge, each function's role against the calls it makes
(`doctor_roles`), the Slack secret, the Price List API, and with a spec the endpoint quotas of its
instance types, its images' platforms (`doctor_images`) and the objects it names. A check that
cannot be made (the caller lacks a permission, a service does not answer) is a warning, never a
blocker; one that needs the stack or a spec it lacks is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infercost.data.clients import PermissionDenied
from infercost.data.doctor_images import Fetch, check_images, fetch_url
from infercost.data.doctor_roles import NAME as ROLES
from infercost.data.doctor_roles import PROBE, check_roles
from infercost.data.endpoints import endpoint_quota_name, quota_headroom
from infercost.data.history import describe_stack, find_output
from infercost.data.pricing.live import PRICING_API_REGIONS, LivePriceError, hosting_prices
from infercost.data.pricing.snapshot import load_snapshot
from infercost.domain.doctor import (
    STACK_OUTPUTS,
    Check,
    StackInfo,
    caller_fix,
    error_text,
    fail,
    ok,
    skip,
    slack_fix,
    slack_secret_check,
    warn,
)
from infercost.domain.errors import InputError
from infercost.domain.models import EvaluationSpec
from infercost.domain.workflow import allocate_quota

# clients(service, region=None) -> a boto3 client (the CLI's region when None).
Clients = Callable[..., Any]

NEEDS_STACK = "needs the stack"
NEEDS_SPEC = "needs a spec: infercost doctor SPEC"
REDEPLOY = "redeploy the stack with this infercost (cdk deploy, docs/deploy.md)"
# The instance type whose price tells whether the Price List API answers, without a spec.
PRICE_PROBE = "ml.m5.large"
_BROKEN = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_COMPLETE", "DELETE_FAILED")


def client_factory(region: str | None, endpoint_url: str | None) -> Clients:
    """The CLI's clients (infercost's retries; AccessDenied names the action), one per service and region."""
    from infercost.data.clients import new_client

    made: dict[tuple[str, str | None], Any] = {}

    def clients(service: str, client_region: str | None = None) -> Any:
        key = (service, client_region or region)
        if key not in made:
            made[key] = new_client(service, region=key[1], endpoint_url=endpoint_url)
        return made[key]

    return clients


def default_artifact_key(spec: EvaluationSpec) -> str:
    return f"models/{spec.model.name}/model.tar.gz"


# --- the stack ------------------------------------------------------------------------------


def read_stack(cloudformation: Any, stack_name: str) -> tuple[Check, StackInfo | None]:
    """The stack's status and outputs; None when there is no usable stack."""
    from botocore.exceptions import BotoCoreError

    name = f"Stack {stack_name}"
    try:
        described = describe_stack(cloudformation, stack_name)
    except BotoCoreError as error:
        return fail(
            name, f"cannot ask CloudFormation: {error}", "check your AWS credentials and --region"
        ), None
    except InputError as error:
        return fail(
            name, error.message, "deploy it (cdk deploy, docs/deploy.md), or pass --stack NAME and --region"
        ), None
    except PermissionDenied as denied:
        return fail(name, denied.message, caller_fix(str(denied.field))), None
    raw = {str(item["OutputKey"]): str(item["OutputValue"]) for item in described.get("Outputs", [])}
    outputs = {key: value for key in STACK_OUTPUTS if (value := find_output(raw, key)) is not None}
    stack = StackInfo.from_description(stack_name, described, outputs)
    where = f"in {stack.region}, account {stack.account}"
    if stack.status in _BROKEN:
        return fail(
            name, f"is {stack.status} {where}", "delete it and deploy again (cdk destroy, then cdk deploy)"
        ), None
    if stack.missing_outputs:
        return (
            fail(
                name,
                f"is {stack.status} {where} but has no output {', '.join(stack.missing_outputs)}",
                REDEPLOY,
            ),
            stack,
        )
    if stack.status.endswith("_IN_PROGRESS"):
        return warn(name, f"is {stack.status} {where}", "run the doctor again when it has finished"), stack
    if stack.status == "UPDATE_ROLLBACK_COMPLETE":
        return warn(
            name, f"is {stack.status} {where}: it runs the version before the failed update", REDEPLOY
        ), stack
    return ok(name, f"{stack.status} {where}, {len(outputs)} outputs"), stack


def check_bucket_events(s3: Any, stack: StackInfo) -> Check:
    """Uploads start runs only if the bucket sends its events to EventBridge."""
    name = "Bucket events"
    bucket = stack.output("ArtifactsBucketName")
    if bucket is None:
        return skip(name, "needs the stack's ArtifactsBucketName output")
    configuration = s3.get_bucket_notification_configuration(Bucket=bucket)
    if "EventBridgeConfiguration" in configuration:
        return ok(name, f"{bucket} sends its object events to EventBridge")
    return fail(
        name,
        f"{bucket} does not send its events to EventBridge: an upload starts no run",
        f"{REDEPLOY}, or turn on 'Amazon EventBridge' in the bucket's event notifications",
    )


def check_objects(s3: Any, stack: StackInfo, spec: EvaluationSpec, artifact_key: str) -> list[Check]:
    """The objects a run reads: the payload and candidates' artifacts (blockers when missing), the
    spec beside the artifact and the artifact itself (uploaded last: it starts the run)."""
    bucket = stack.output("ArtifactsBucketName")
    if bucket is None:
        return [skip("Objects", "needs the stack's ArtifactsBucketName output")]
    folder = artifact_key.rpartition("/")[0]
    wanted: list[tuple[str, str, bool]] = [
        (f"{folder}/infercost.json" if folder else "infercost.json", "the spec", False),
        (artifact_key, "the model artifact", False),
    ]
    if spec.payload.s3_key:
        wanted.append((spec.payload.s3_key, "the payload (payload.s3_key)", True))
    for index, candidate in enumerate(spec.candidates):
        if candidate.container is not None and candidate.container.model_data_key:
            label = f"candidates[{index}].container.model_data_key"
            wanted.append((candidate.container.model_data_key, label, True))
    seen: set[str] = set()
    checks = []
    for key, label, required in wanted:
        if key not in seen:
            seen.add(key)
            checks.append(_check_object(s3, bucket, key, label, required, artifact=key == artifact_key))
    return checks


def _check_object(s3: Any, bucket: str, key: str, label: str, required: bool, *, artifact: bool) -> Check:
    from botocore.exceptions import ClientError

    name = f"Object {key}"
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in ("403", "AccessDenied", "Forbidden"):
            return warn(
                name,
                f"{label}: S3 refused to show it to you (403)",
                caller_fix("s3:GetObject and s3:ListBucket"),
            )
        if code not in ("404", "NoSuchKey", "NotFound"):
            raise
        upload = f"aws s3 cp FILE s3://{bucket}/{key}"
        if required:
            return fail(name, f"{label} is not in s3://{bucket}", f"upload it before the artifact: {upload}")
        if artifact:
            return warn(name, f"{label} is not uploaded yet", f"upload it last, it starts the run: {upload}")
        return warn(name, f"{label} is not uploaded yet", f"upload it before the artifact: {upload}")
    size = int(head.get("ContentLength", 0))
    note = " (uploading it again starts a run)" if artifact else ""
    return ok(name, f"{label}: {size:,} bytes, readable{note}")


# --- quotas, prices, Slack ------------------------------------------------------------------


def check_quotas(servicequotas: Any, sagemaker: Any, spec: EvaluationSpec) -> list[Check]:
    """Each instance type's endpoint quota, minus the instances live endpoints hold, against what
    the spec's candidates of that type need together (the Map may run them at once)."""
    needed: dict[str, int] = {}
    for candidate in spec.candidates:
        if candidate.instance_type is not None:
            needed[candidate.instance_type] = (
                needed.get(candidate.instance_type, 0) + candidate.instance_count
            )
    if not needed:
        return [skip("Quotas", "every candidate is serverless")]
    headroom = quota_headroom(servicequotas, sagemaker, needed)
    skipped = allocate_quota(spec.candidates, headroom)
    checks = []
    for instance_type in sorted(needed):
        name = f"Quota {instance_type}"
        quota = endpoint_quota_name(instance_type)
        left, need = headroom.get(instance_type), needed[instance_type]
        if left is None:
            checks.append(
                warn(
                    name,
                    f"Service Quotas lists no '{quota}' in this region",
                    "check that SageMaker hosts this type here (infercost prices --region R)",
                )
            )
        elif need > left:
            labels = [
                spec.candidates[index].label
                for index in sorted(skipped)
                if spec.candidates[index].instance_type == instance_type
            ]
            checks.append(
                fail(
                    name,
                    f"{max(left, 0)} instance(s) left of '{quota}', the candidates need {need}: "
                    f"the run would skip {', '.join(labels)}",
                    f"request an increase of '{quota}' by {need - max(left, 0)} in Service Quotas "
                    "(or delete endpoints that hold this type)",
                )
            )
        else:
            checks.append(ok(name, f"{left} instance(s) left of '{quota}', the candidates need {need}"))
    return checks


def check_prices(pricing: Any, region: str, instance_type: str) -> Check:
    """Whether the Price List API answers; without it the bundled snapshot prices the run."""
    name = "Price List API"
    snapshot = f"the snapshot of {load_snapshot().as_of} will be used"
    try:
        prices = hosting_prices(pricing, region, instance_name=instance_type)
    except PermissionDenied as denied:
        # The caller's own permission, not the stack's (the roles check covers Prepare's grant).
        return warn(name, f"cannot ask it from here: {denied.message}", caller_fix(str(denied.field)))
    except LivePriceError as error:
        return warn(name, f"{error}: {snapshot}")
    price = prices.get(instance_type)
    if price is None:
        return warn(name, f"answers, but lists no hosting price of {instance_type} in {region}: {snapshot}")
    published = f" (published {price.as_of})" if price.as_of else ""
    return ok(name, f"{instance_type} is ${price.usd_per_hour:.4g}/hour in {region}{published}")


def check_slack(secretsmanager: Any, stack: StackInfo) -> tuple[Check, str | None]:
    """The Slack secret's value (optional: unset is a warning), and the secret's full ARN."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    name = "Slack webhook"
    secret_id = stack.output("SlackSecretArn")
    if secret_id is None:
        return skip(name, "needs the stack's SlackSecretArn output"), None
    try:
        answer = secretsmanager.get_secret_value(SecretId=secret_id)
    except PermissionDenied as denied:
        return warn(name, f"cannot read the secret: {denied.message}", caller_fix(str(denied.field))), None
    except ClientError as error:
        details = error.response.get("Error", {})
        if details.get("Code") != "ResourceNotFoundException":
            return warn(name, f"cannot read the secret: {error_text(error)}"), None
        if "staging label" in str(details.get("Message", "")):
            return warn(
                name, "the secret has no value: notifications go to SNS only", slack_fix(secret_id)
            ), None
        return fail(name, f"the secret {secret_id} does not exist", REDEPLOY), None
    except (BotoCoreError, ResponseParserError) as error:
        return warn(name, f"cannot read the secret: {error_text(error)}"), None
    check = slack_secret_check(name, str(answer.get("SecretString") or ""), secret_id)
    return check, answer.get("ARN")


# --- all of them ----------------------------------------------------------------------------


def _safely(name: str, run: Callable[[], Check | list[Check]]) -> list[Check]:
    """Run one check; what keeps it from being made is a warning, not a blocker."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    try:
        result = run()
    except PermissionDenied as denied:
        return [warn(name, f"cannot check: {denied.message}", caller_fix(str(denied.field)))]
    except (ClientError, BotoCoreError, ResponseParserError) as error:
        return [warn(name, f"cannot check: {error_text(error)}")]
    return result if isinstance(result, list) else [result]


def diagnose(
    clients: Clients,
    *,
    stack_name: str,
    spec: EvaluationSpec | None = None,
    artifact_key: str | None = None,
    region: str | None = None,
    fetch: Fetch = fetch_url,
) -> list[Check]:
    """Every check, in the checklist's order."""
    if spec is None:
        checks = [skip("Spec", "none given: quotas, images and objects are not checked")]
    else:
        checks = [
            ok(
                "Spec",
                f"model {spec.model.name}, {len(spec.candidates)} candidates, SLO {spec.slo.describe()}",
            )
        ]
    artifact_key = artifact_key or (default_artifact_key(spec) if spec else None)
    folder = artifact_key.rpartition("/")[0] if artifact_key else f"models/{PROBE}"
    cloudformation = clients("cloudformation")
    stack_check, stack = read_stack(cloudformation, stack_name)
    checks.append(stack_check)
    if stack is None:
        for name in ("Bucket events", ROLES, "Slack webhook"):
            checks.append(skip(name, NEEDS_STACK))
    else:
        found = stack
        checks += _safely("Bucket events", lambda: check_bucket_events(clients("s3"), found))
        slack, secret_arn = check_slack(clients("secretsmanager"), found)
        checks += _safely(
            ROLES,
            lambda: check_roles(
                cloudformation,
                clients("lambda"),
                clients("iam"),
                found,
                input_key=f"{folder}/infercost.json",
                secret_arn=secret_arn or found.output("SlackSecretArn"),
            ),
        )
        checks.append(slack)
    price_region = region or (stack.region if stack else None) or cloudformation.meta.region_name
    api_region = price_region if price_region in PRICING_API_REGIONS else PRICING_API_REGIONS[0]
    probe = next((c.instance_type for c in spec.candidates if c.instance_type), None) if spec else None
    checks += _safely(
        "Price List API",
        lambda: check_prices(clients("pricing", api_region), price_region, probe or PRICE_PROBE),
    )
    if spec is None:
        checks += [skip(name, NEEDS_SPEC) for name in ("Quotas", "Images", "Objects")]
        return checks
    checks += _safely("Quotas", lambda: check_quotas(clients("service-quotas"), clients("sagemaker"), spec))
    checks += _safely("Images", lambda: check_images(spec, lambda where: clients("ecr", where), fetch))
    if stack is None or artifact_key is None:
        checks.append(skip("Objects", NEEDS_STACK))
    else:
        found, key = stack, artifact_key
        checks += _safely("Objects", lambda: check_objects(clients("s3"), found, spec, key))
    return checks
