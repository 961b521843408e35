"""The SageMaker runtime transport, driven through botocore's Stubber (no AWS calls)."""

from __future__ import annotations

import io
import pickle
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from infercost.domain.models import LoadPlan
from infercost.measurement.loadtest import run_load_test
from infercost.measurement.results import LoadTestError
from infercost.measurement.sagemaker import SageMakerTransport, classify_client_error, sagemaker_transport

PAYLOAD = b'{"instances": [[0.1, 0.2]]}'
ENDPOINT = "infercost-run-01-c7g-large"


def client() -> Any:
    return boto3.client("sagemaker-runtime", region_name="us-east-1")


def ok_response() -> dict[str, Any]:
    return {"Body": StreamingBody(io.BytesIO(b'{"predictions":[]}'), 18), "ContentType": "application/json"}


EXPECTED = {"EndpointName": ENDPOINT, "ContentType": "application/json", "Body": PAYLOAD}


def stubbed(outcomes: list[str | dict[str, Any]]) -> tuple[Any, Stubber]:
    """A client answering in turn: 'ok', or the error fields for add_client_error."""
    runtime = client()
    stubber = Stubber(runtime)
    for outcome in outcomes:
        if outcome == "ok":
            stubber.add_response("invoke_endpoint", ok_response(), EXPECTED)
        else:
            assert isinstance(outcome, dict)
            stubber.add_client_error("invoke_endpoint", expected_params=EXPECTED, **outcome)
    stubber.activate()
    return runtime, stubber


THROTTLED = {
    "service_error_code": "ThrottlingException",
    "service_message": "Rate exceeded",
    "http_status_code": 400,
}
MODEL_400 = {
    "service_error_code": "ModelError",
    "service_message": "Received client error (400) from primary",
    "http_status_code": 424,
    "modeled_fields": {"OriginalStatusCode": 400, "OriginalMessage": "bad rows"},
}
MODEL_500 = {**MODEL_400, "modeled_fields": {"OriginalStatusCode": 500, "OriginalMessage": "boom"}}
NOT_FOUND = {
    "service_error_code": "ValidationError",
    "service_message": f"Endpoint {ENDPOINT} of account 123456789012 not found.",
    "http_status_code": 400,
}
UNAVAILABLE = {
    "service_error_code": "ServiceUnavailable",
    "service_message": "try later",
    "http_status_code": 503,
}


def test_errors_are_counted_by_kind_and_successes_timed() -> None:
    outcomes: list[str | dict[str, Any]] = ["ok", "ok"]  # warm-up
    outcomes += ["ok", THROTTLED, "ok", MODEL_400, MODEL_500, "ok", UNAVAILABLE, "ok"]
    runtime, stubber = stubbed(outcomes)
    transport = sagemaker_transport(ENDPOINT, "application/json", client=runtime)
    result = run_load_test(transport, PAYLOAD, LoadPlan(warmup=2, requests=8))
    stubber.assert_no_pending_responses()
    measured = result.measured
    assert measured.ok == 4
    assert measured.errors_by_kind == {"throttled": 1, "http_4xx": 1, "http_5xx": 2}
    assert "model returned HTTP 400" in measured.error_examples["http_4xx"]
    assert measured.error_examples["throttled"] == "ThrottlingException: Rate exceeded"
    assert any("4 errors of 8" in note for note in result.notes)


def test_an_endpoint_that_does_not_exist_fails_fast_with_the_service_message() -> None:
    runtime, _ = stubbed([NOT_FOUND] * 5)
    transport = sagemaker_transport(ENDPOINT, "application/json", client=runtime)
    with pytest.raises(LoadTestError) as caught:
        run_load_test(transport, PAYLOAD, LoadPlan(warmup=100, requests=1000))
    assert "first 5 requests to SageMaker endpoint" in str(caught.value)
    assert "not found" in str(caught.value) and "InService" in str(caught.value)


class RaisingClient:
    """A client whose calls fail the way botocore fails below the API (no HTTP response)."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def invoke_endpoint(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        raise self.error


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ReadTimeoutError(endpoint_url="https://runtime.sagemaker"), "timeout"),
        (EndpointConnectionError(endpoint_url="https://runtime.sagemaker"), "connection"),
        (RuntimeError("odd"), "other"),
    ],
)
def test_transport_faults_are_their_own_kinds(error: Exception, kind: str) -> None:
    fake = RaisingClient(error)
    transport = sagemaker_transport(ENDPOINT, "application/json", client=fake)
    raw = transport.run_level(PAYLOAD, 6, 3, deadline=float("inf"))
    assert dict(raw.errors) == {kind: 6} and fake.calls == 6


def test_a_level_stops_once_errors_pass_the_budget() -> None:
    fake = RaisingClient(RuntimeError("odd"))
    transport = sagemaker_transport(ENDPOINT, "application/json", client=fake)
    raw = transport.run_level(PAYLOAD, 1000, 2, deadline=float("inf"), max_errors=10)
    assert 11 <= fake.calls <= 13
    assert raw.aborted == "stopped after 11 errors"


def test_the_deadline_stops_issuing() -> None:
    runtime, _ = stubbed([])
    transport = sagemaker_transport(ENDPOINT, "application/json", client=runtime)
    raw = transport.run_level(PAYLOAD, 1000, 4, deadline=0.0)
    assert raw.completed == 0 and raw.aborted == "time budget ran out"


def test_concurrent_threads_share_the_client() -> None:
    runtime, stubber = stubbed(["ok"] * 40)
    transport = sagemaker_transport(ENDPOINT, "application/json", client=runtime)
    ticks: list[int] = []
    raw = transport.run_level(PAYLOAD, 40, 8, deadline=float("inf"), tick=ticks.append)
    stubber.assert_no_pending_responses()
    assert len(raw.latencies_ms) == 40 and ticks[-1] == 40
    transport.close()  # a given client is the caller's: left open


def test_its_own_client_has_a_pool_for_the_concurrency_and_no_retries() -> None:
    transport = SageMakerTransport(ENDPOINT, "application/json", timeout_s=7)
    small = transport.client_for(4)
    assert transport.client_for(2) is small
    large = transport.client_for(64)
    config = large.meta.config
    assert config.max_pool_connections == 64
    assert config.retries["total_max_attempts"] == 1
    assert config.read_timeout == 7
    transport.close()
    revived = pickle.loads(pickle.dumps(transport))
    assert revived.endpoint_name == ENDPOINT and revived.timeout_s == 7


def test_a_transport_around_a_given_client_stays_in_its_process() -> None:
    with pytest.raises(TypeError, match="cannot move to another process"):
        pickle.dumps(sagemaker_transport(ENDPOINT, "application/json", client=client()))


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        ({"Error": {"Code": "ThrottlingException"}}, "throttled"),
        ({"Error": {"Code": "Whatever"}, "ResponseMetadata": {"HTTPStatusCode": 429}}, "throttled"),
        ({"Error": {"Code": "ModelError"}, "OriginalStatusCode": 503}, "http_5xx"),
        ({"Error": {"Code": "ModelError"}}, "http_5xx"),
        ({"Error": {"Code": "ModelNotReadyException"}}, "http_5xx"),
        ({"Error": {"Code": "InternalFailure"}, "ResponseMetadata": {"HTTPStatusCode": 500}}, "http_5xx"),
        ({"Error": {"Code": "ValidationError"}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "http_4xx"),
    ],
)
def test_classify_client_error(response: dict[str, Any], kind: str) -> None:
    assert classify_client_error(response)[0] == kind
