"""SigV4 signing against botocore's own signer for the same request."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from infercost.measurement.signing import Credentials, SigV4Signer

NOW = datetime(2026, 12, 2, 13, 5, 9, tzinfo=UTC)
PAYLOAD = b'{"instances": [[0.1, 0.2, 0.3]]}'


def botocore_authorization(
    url: str, headers: dict[str, str], credentials: Credentials, region: str
) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url, data=PAYLOAD, headers=dict(headers))
    signer = SigV4Auth(
        BotoCredentials(credentials.access_key, credentials.secret_key, credentials.token),
        "sagemaker",
        region,
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        signer.add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEJr//session-token"])
@pytest.mark.parametrize(
    ("url", "host", "path"),
    [
        (
            "https://runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/infercost-r1-c7g-large/invocations",
            "runtime.sagemaker.eu-west-1.amazonaws.com",
            "/endpoints/infercost-r1-c7g-large/invocations",
        ),
        (
            "http://127.0.0.1:8123/endpoints/ep/invocations-response-stream",
            "127.0.0.1:8123",
            "/endpoints/ep/invocations-response-stream",
        ),
    ],
)
def test_the_signature_is_the_one_botocore_computes(
    token: str | None, url: str, host: str, path: str
) -> None:
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    headers = {"Content-Type": "application/json", "X-Amzn-SageMaker-Accept": "*/*"}
    ours = SigV4Signer("eu-west-1", "sagemaker").sign(
        "POST", host, path, headers, hashlib.sha256(PAYLOAD).hexdigest(), credentials, NOW
    )
    theirs = botocore_authorization(url, headers, credentials, "eu-west-1")

    assert ours["Authorization"] == theirs["Authorization"]
    assert ours["X-Amz-Date"] == theirs["X-Amz-Date"] == "20261202T130509Z"
    assert ours.get("X-Amz-Security-Token") == theirs.get("X-Amz-Security-Token")


def test_header_values_are_trimmed_as_botocore_does() -> None:
    credentials = Credentials("AKID", "secret")
    headers = {"Content-Type": "  text/csv ;  charset=utf-8 "}
    ours = SigV4Signer("us-east-1", "sagemaker").sign(
        "POST",
        "h.example",
        "/endpoints/e/invocations",
        headers,
        hashlib.sha256(PAYLOAD).hexdigest(),
        credentials,
        NOW,
    )
    theirs = botocore_authorization(
        "https://h.example/endpoints/e/invocations", headers, credentials, "us-east-1"
    )
    assert ours["Authorization"] == theirs["Authorization"]


def test_the_signing_key_is_derived_once_a_day_per_secret() -> None:
    signer = SigV4Signer("us-east-1", "sagemaker")
    with mock.patch(
        "infercost.measurement.signing._hmac",
        wraps=__import__("infercost.measurement.signing", fromlist=["_hmac"])._hmac,
    ) as derive:
        first = signer.signing_key("s1", "20261202")
        assert signer.signing_key("s1", "20261202") is first
        assert derive.call_count == 4  # date, region, service, aws4_request
        signer.signing_key("s1", "20261203")
        signer.signing_key("s2", "20261203")
        assert derive.call_count == 12


def test_a_different_secret_gives_a_different_signature() -> None:
    signer = SigV4Signer("us-east-1", "sagemaker")
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    a = signer.sign("POST", "h", "/p", {}, sha, Credentials("AKID", "one"), NOW)["Authorization"]
    b = signer.sign("POST", "h", "/p", {}, sha, Credentials("AKID", "two"), NOW)["Authorization"]
    assert a != b
