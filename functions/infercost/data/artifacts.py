"""The artifacts bucket: the evaluation spec and payload beside a model artifact, and reports."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from infercost.domain.errors import InputError
from infercost.domain.models import PayloadSpec, parse_json_text
from infercost.domain.workflow import SPEC_FILE_NAME

# A spec is a few KB; anything far larger is not a spec.
MAX_SPEC_BYTES = 256 * 1024
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker's real-time request limit


def _missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound")


def read_spec(s3: Any, bucket: str, key: str) -> Any:
    """The parsed JSON of the spec at s3://bucket/key; InputError naming the file when unusable."""
    uri = f"s3://{bucket}/{key}"
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if _missing(error):
            raise InputError(
                f"no evaluation spec at {uri}",
                field=SPEC_FILE_NAME,
                hint=f"upload {SPEC_FILE_NAME} beside the artifact, before the artifact itself",
            ) from None
        raise
    body = response["Body"].read(MAX_SPEC_BYTES + 1)
    if len(body) > MAX_SPEC_BYTES:
        raise InputError(f"{uri} is larger than {MAX_SPEC_BYTES // 1024} KB", field=SPEC_FILE_NAME)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{uri} is not UTF-8 text", field=SPEC_FILE_NAME) from None
    try:
        return parse_json_text(text, source=uri)
    except InputError as error:
        raise InputError(error.message, field=SPEC_FILE_NAME, hint=error.hint) from None


def read_payload(s3: Any, bucket: str, payload: PayloadSpec) -> bytes:
    """The request body each endpoint receives: inline text, or an object in the bucket."""
    if payload.body is not None:
        return payload.body.encode("utf-8")
    key = str(payload.s3_key)
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if _missing(error):
            raise InputError(
                f"no payload object at s3://{bucket}/{key}",
                field="payload.s3_key",
                hint="upload the sample request beside the artifact",
            ) from None
        raise
    body: bytes = response["Body"].read(MAX_PAYLOAD_BYTES + 1)
    if len(body) > MAX_PAYLOAD_BYTES:
        raise InputError(
            f"s3://{bucket}/{key} is larger than SageMaker's 6 MB request limit",
            field="payload.s3_key",
        )
    return body


def read_object(s3: Any, bucket: str, key: str, *, field: str, limit_bytes: int = 50 * 1024 * 1024) -> bytes:
    """An object the run needs (prompts, a tokenizer); a missing one is an InputError naming `field`."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if _missing(error):
            raise InputError(f"no object at s3://{bucket}/{key}", field=field) from None
        raise
    body: bytes = response["Body"].read(limit_bytes + 1)
    if len(body) > limit_bytes:
        raise InputError(f"s3://{bucket}/{key} is larger than {limit_bytes // 1024 // 1024} MB", field=field)
    return body


def report_key(prefix: str, model: str, run_id: str) -> str:
    """Where a run's HTML report lives: '<reports prefix><model>/<run id>.html'."""
    folder = prefix if prefix.endswith("/") or not prefix else prefix + "/"
    return f"{folder}{model}/{run_id}.html"


def put_report(s3: Any, bucket: str, key: str, html: str) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=html.encode("utf-8"),
        ContentType="text/html; charset=utf-8",
    )


def sweep_share_key(prefix: str, model: str, run_id: str, endpoint_name: str, worker: int) -> str:
    """Where a sweep worker leaves its share: beside the report, '<report>/load/<endpoint>/worker-N.json'."""
    return (
        report_key(prefix, model, run_id).removesuffix(".html")
        + f"/load/{endpoint_name}/worker-{worker}.json"
    )


def put_json(s3: Any, bucket: str, key: str, document: Any) -> None:
    s3.put_object(
        Bucket=bucket, Key=key, Body=json.dumps(document).encode("utf-8"), ContentType="application/json"
    )


def get_json(s3: Any, bucket: str, key: str) -> Any:
    """The JSON document at s3://bucket/key; InputError naming it when it is gone."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if _missing(error):
            raise InputError(f"s3://{bucket}/{key} is missing", field="sweep") from None
        raise
    return json.loads(response["Body"].read())
