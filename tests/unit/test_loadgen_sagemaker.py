"""The InvokeEndpoint transport against a SageMaker-runtime stand-in on 127.0.0.1 that checks
every signature with botocore's signer and answers with the service's errors and event streams."""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from infercost.domain.errors import InputError
from infercost.domain.models import LoadPlan
from infercost.local.tls import self_signed_certificate
from infercost.measurement.loadtest import run_load_test
from infercost.measurement.results import LoadTestError
from infercost.measurement.sagemaker import (
    MAX_PAYLOAD_BYTES,
    SageMakerTransport,
    classify_error,
    parse_error,
    sagemaker_transport,
)
from tests.sagemaker_runtime import PARTS, SECRET, StandIn, sagemaker_runtime

PAYLOAD = b'{"instances": [[0.1, 0.2]]}'


@pytest.fixture(scope="module")
def standin() -> Iterator[StandIn]:
    with sagemaker_runtime() as server:
        yield server


@pytest.fixture
def runtime(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """The standard settings pointed at the stand-in, with the credentials it accepts."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", standin.url)  # type: ignore[attr-defined]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSTANDIN")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)  # botocore reads it before AWS_SESSION_TOKEN
    return standin


def level(endpoint: str, requests: int = 6, concurrency: int = 3, **options: Any) -> Any:
    transport = sagemaker_transport(endpoint, "application/json", **options)
    try:
        return transport.run_level(PAYLOAD, requests, concurrency, deadline=time.monotonic() + 30)
    finally:
        transport.close()


def test_signed_requests_are_accepted_and_timed(runtime: StandIn) -> None:
    before, bad = runtime.requests, runtime.bad_signatures
    raw = level("ok-endpoint", requests=40, concurrency=8)
    assert len(raw.latencies_ms) == 40 and not raw.errors
    assert runtime.requests - before == 40 and runtime.bad_signatures == bad
    assert raw.client_cpu_share is not None and not raw.client_bound


def test_a_whole_load_test_runs_over_invoke_endpoint(runtime: StandIn) -> None:
    transport = sagemaker_transport("ok-endpoint", "application/json")
    result = run_load_test(transport, PAYLOAD, LoadPlan(warmup=3, requests=20, concurrency=[1, 4]))
    transport.close()
    assert result.measured.ok == 20 and result.sweep[0].ok == 20 and result.sweep[0].concurrency == 4


@pytest.mark.parametrize(
    ("endpoint", "kind", "words"),
    [
        ("missing", "http_4xx", "ValidationError: Endpoint missing of account 123456789012 not found."),
        ("throttled", "throttled", "ThrottlingException: Rate exceeded"),
        ("not-ready", "http_5xx", "ModelNotReadyException"),
        ("model-400", "http_4xx", "model returned HTTP 400"),
        ("model-503", "http_5xx", "model returned HTTP 503"),
        ("unavailable", "http_5xx", "ServiceUnavailable: try later"),
        ("reset", "connection", "mid-response"),
    ],
)
def test_the_services_errors_are_counted_by_kind(
    runtime: StandIn, endpoint: str, kind: str, words: str
) -> None:
    raw = level(endpoint)
    assert dict(raw.errors) == {kind: 6} and not raw.latencies_ms
    assert words in raw.examples[kind]


def test_an_endpoint_that_does_not_exist_fails_fast_with_the_service_message(runtime: StandIn) -> None:
    transport = sagemaker_transport("missing", "application/json")
    with pytest.raises(LoadTestError) as caught:
        run_load_test(transport, PAYLOAD, LoadPlan(warmup=100, requests=1000))
    transport.close()
    assert "first 5 requests to SageMaker endpoint missing" in str(caught.value)
    assert "not found" in str(caught.value) and "InService" in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value", "code"),
    [
        ("AWS_SESSION_TOKEN", "expired", "ExpiredTokenException"),
        ("AWS_SECRET_ACCESS_KEY", "wrong", "InvalidSignature"),
    ],
)
def test_expired_or_wrong_credentials_stop_the_run_with_the_fix(
    runtime: StandIn, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, code: str
) -> None:
    monkeypatch.setenv(variable, value)
    transport = sagemaker_transport("ok-endpoint", "application/json")
    with pytest.raises(LoadTestError) as caught:
        run_load_test(transport, PAYLOAD, LoadPlan(warmup=10, requests=10))
    transport.close()
    assert code in str(caught.value) and "renew the AWS credentials" in str(caught.value)


def test_missing_credentials_are_one_clear_error(runtime: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role here, and no waiting for one
    with pytest.raises(LoadTestError, match="no AWS credentials found") as caught:
        sagemaker_transport("ok-endpoint", "application/json")
    assert "AWS_PROFILE" in str(caught.value)


def test_a_missing_region_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(LoadTestError, match="no AWS region"):
        sagemaker_transport("ok-endpoint", "application/json")


def test_a_payload_over_the_service_limit_is_refused_before_sending(runtime: StandIn) -> None:
    transport = sagemaker_transport("ok-endpoint", "application/json")
    with pytest.raises(InputError, match="at most 6,291,456") as caught:
        transport.run_level(b"x" * (MAX_PAYLOAD_BYTES + 1), 1, 1, deadline=time.monotonic() + 5)
    transport.close()
    assert caught.value.field == "payload"


def test_a_413_from_the_service_names_the_limit() -> None:
    code, message, original = parse_error(413, "", b"<html>Request Entity Too Large</html>")
    kind, text = classify_error(413, code, message, original)
    assert kind == "http_4xx" and "at most 6,291,456 bytes" in text


def test_a_slow_endpoint_times_out_and_nothing_hangs(runtime: StandIn) -> None:
    started = time.monotonic()
    raw = level("slow-endpoint", requests=2, concurrency=2, timeout_s=0.3)
    assert dict(raw.errors) == {"timeout": 2}
    assert time.monotonic() - started < 2.0


def test_a_stream_gives_time_to_first_byte_part_times_and_the_body(runtime: StandIn) -> None:
    raw = level("stream-endpoint", requests=4, concurrency=2, stream=True)
    assert not raw.errors and len(raw.latencies_ms) == 4 and len(raw.first_byte_ms) == 4
    for response, total_ms in zip(raw.streams, raw.latencies_ms, strict=False):
        assert response.body == b"".join(PARTS)
        assert len(response.part_ms) == 3 and response.part_ms == sorted(response.part_ms)
        # Parts are sent 20 ms apart: the last cannot arrive before 40 ms, the first arrives first.
        # (How far apart they are read depends on scheduling; a loaded machine can bunch them.)
        assert response.first_byte_ms == response.part_ms[0] < response.part_ms[-1]
        assert response.part_ms[-1] >= 39.0 and response.part_ms[-1] <= total_ms + 0.01
    result = raw.to_level()
    assert result.first_byte_ms is not None and result.first_byte_ms.p50 < result.latency_ms.p50


@pytest.mark.parametrize(
    ("endpoint", "words"),
    [
        ("stream-cut", "stream cut off mid-event"),
        ("stream-error", "ModelStreamError: model crashed mid-stream"),
    ],
)
def test_a_broken_stream_is_counted_as_a_stream_error(runtime: StandIn, endpoint: str, words: str) -> None:
    raw = level(endpoint, requests=3, concurrency=1, stream=True)
    assert dict(raw.errors) == {"stream": 3} and words in raw.examples["stream"]


def test_the_standard_endpoint_settings_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    aws = sagemaker_transport("infercost-r1-c7g-large", "text/csv")
    assert (aws.host, aws.port, aws.host_header) == (
        "runtime.sagemaker.eu-west-1.amazonaws.com",
        443,
        aws.host,
    )
    assert aws.path == "/endpoints/infercost-r1-c7g-large/invocations" and aws.ssl is not None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9911")
    local = sagemaker_transport("ep", "text/csv", stream=True)
    assert (local.host, local.port, local.ssl) == ("127.0.0.1", 9911, None)
    assert local.path == "/endpoints/ep/invocations-response-stream" and local.host_header == "127.0.0.1:9911"


class _Rotating:
    """Credentials that botocore has refreshed: a new token each time they are read."""

    def __init__(self) -> None:
        self.reads = 0

    def get_frozen_credentials(self) -> Any:
        self.reads += 1
        return botocore.credentials.ReadOnlyCredentials("AKID", SECRET, f"token-{self.reads}")


def test_refreshed_credentials_are_used_at_the_next_signature(runtime: StandIn) -> None:
    transport = SageMakerTransport("ok-endpoint", "application/json")
    transport._credentials = _Rotating()
    first = transport._build_request(PAYLOAD)
    transport.refresh()
    assert transport.request == b""  # re-signs at most once a second
    transport._signed_at -= 2
    transport.refresh()
    assert b"token-1" in first and b"token-2" in transport.request


def test_it_moves_to_a_worker_process_by_its_settings(runtime: StandIn) -> None:
    transport = sagemaker_transport("ok-endpoint", "application/json", timeout_s=7, stream=True)
    revived = pickle.loads(pickle.dumps(transport))
    assert (revived.endpoint_name, revived.timeout_s, revived.stream) == ("ok-endpoint", 7, True)
    with pytest.raises(TypeError, match="cannot move to another process"):
        pickle.dumps(sagemaker_transport("ok", "application/json", session=botocore.session.get_session()))


def test_error_bodies_are_read_as_the_service_writes_them() -> None:
    assert parse_error(400, "ValidationError:http://internal.amazon.com/", b'{"message": "bad"}') == (
        "ValidationError",
        "bad",
        None,
    )
    assert parse_error(
        424, "", b'{"__type": "com.amazon#ModelError", "Message": "x", "OriginalStatusCode": 413}'
    ) == (
        "ModelError",
        "x",
        413,
    )


def test_tls_connections_verify_the_runtime_with_the_configured_ca_bundle(
    runtime: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls = self_signed_certificate(tmp_path)
    with sagemaker_runtime(tls=tls) as secure:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", secure.url)  # type: ignore[attr-defined]
        monkeypatch.setenv("AWS_CA_BUNDLE", str(tls[0]))
        raw = level("ok-endpoint", requests=20, concurrency=4)
        assert len(raw.latencies_ms) == 20 and secure.requests == 20
        # Without the bundle the certificate is not trusted: every connection is refused.
        monkeypatch.delenv("AWS_CA_BUNDLE")
        untrusted = level("ok-endpoint", requests=3, concurrency=1)
    assert dict(untrusted.errors) == {"connection": 3}
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.examples["connection"]
