"""The local model server: the container contract, the model, profiles, metrics, lifecycle."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infercost.data.metrics import metric_window, read_endpoint_metrics
from infercost.domain.models import Candidate, LoadPlan, ServerlessConfig
from infercost.local import cloudwatch as local_cloudwatch
from infercost.local.model_server import (
    N_FEATURES,
    ModelServer,
    TinyMlp,
    main,
    parse_rows,
    profile_named,
    sample_payload,
)
from infercost.local.profiles import NOOP, SpeedProfile, fixed_delay, profile_for
from infercost.measurement.http import http_transport
from infercost.measurement.loadtest import run_load_test


def call(
    url: str, method: str, path: str, body: bytes = b"", content_type: str = "application/json"
) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_ping_and_invocations_follow_the_container_contract() -> None:
    profile = SpeedProfile(name="model", workers=4)
    with ModelServer(profile) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert call(server.url, "GET", "/ping") == (200, b"")
        status, body = call(server.url, "POST", "/invocations", sample_payload(rows=3))
        assert status == 200
        predictions = json.loads(body)["predictions"]
        assert len(predictions) == 3
        assert all(len(row) == 3 and abs(sum(row) - 1) < 1e-5 for row in predictions)
        csv = "\n".join(",".join(["0.5"] * N_FEATURES) for _ in range(2)).encode()
        status, body = call(server.url, "POST", "/invocations", csv, "text/csv")
        assert status == 200 and len(json.loads(body)["predictions"]) == 2
        assert call(server.url, "GET", "/nothing")[0] == 404
        assert server.stats()["invocations"] == 2


def test_the_model_is_deterministic_across_servers() -> None:
    answers = []
    for _ in range(2):
        with ModelServer(SpeedProfile(name="model")) as server:
            answers.append(call(server.url, "POST", "/invocations", sample_payload(rows=2, seed=5)))
    assert answers[0] == answers[1]
    assert TinyMlp().w1.tolist() == TinyMlp().w1.tolist()


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (
            b'{"instances": [[1, 2]]}',
            "application/json",
            "expected rows of 16 numbers, got shape [1, 2]",
        ),
        (b"not json", "application/json", "payload is not application/json rows"),
        (b"a,b", "text/csv", "payload is not text/csv rows"),
        (b"{}", "image/png", "content type 'image/png' is not supported"),
        (b"[]", "application/json", "got shape [0]"),
    ],
)
def test_a_bad_payload_is_a_400_that_says_what_is_expected(
    body: bytes, content_type: str, message: str
) -> None:
    with ModelServer(SpeedProfile(name="model")) as server:
        status, answer = call(server.url, "POST", "/invocations", body, content_type)
    assert status == 400
    assert message in json.loads(answer)["error"]


def test_a_batch_mixing_good_and_bad_payloads_answers_each_one() -> None:
    profile = SpeedProfile(name="gpu", base_latency_ms=30, max_batch=8, workers=1)
    results: list[int] = []
    with ModelServer(profile) as server:

        def send(body: bytes) -> None:
            results.append(call(server.url, "POST", "/invocations", body)[0])

        threads = [
            threading.Thread(target=send, args=(b"[1]" if i % 2 else sample_payload(),)) for i in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
    assert sorted(results) == [200] * 3 + [400] * 3


def test_batching_serves_queued_requests_together() -> None:
    profile = SpeedProfile(name="gpu", base_latency_ms=50, max_batch=8, workers=1, noop=True)
    with ModelServer(profile) as server:
        transport = http_transport(server.url, "application/json")
        result = run_load_test(
            transport,
            b"{}",
            LoadPlan(warmup=0, requests=8, concurrency=[1, 8], requests_per_level=32),
        )
        transport.close()
    level = result.sweep[0]
    # One worker, 50 ms per batch: 8 in flight finish in about 4 batches, not 32 requests' time.
    assert level.duration_s < 32 * 0.05 / 2
    assert level.rps > 3 * result.measured.rps


def test_parallel_workers_and_jitter_shape_the_latency() -> None:
    profile = SpeedProfile(name="cpu", base_latency_ms=20, jitter_ms=5, workers=2, noop=True, seed=3)
    with ModelServer(profile) as server:
        transport = http_transport(server.url, "application/json")
        result = run_load_test(
            transport,
            b"{}",
            LoadPlan(warmup=0, requests=20, concurrency=[1, 4], requests_per_level=20),
        )
        transport.close()
    serial, four = result.measured.latency_ms, result.sweep[0].latency_ms
    assert serial is not None and four is not None
    assert serial.p50 is not None and four.p50 is not None
    assert serial.p50 >= 20 and serial.max is not None and serial.max > serial.p50
    assert four.p50 > 1.5 * serial.p50  # 4 in flight on 2 workers queue


def test_a_cold_start_delays_the_first_request_after_idle() -> None:
    profile = SpeedProfile(name="sls", base_latency_ms=1, cold_start_ms=150, cold_after_idle_s=60, noop=True)
    with ModelServer(profile) as server:
        first = time.perf_counter()
        call(server.url, "POST", "/invocations", b"{}")
        cold = time.perf_counter() - first
        second = time.perf_counter()
        call(server.url, "POST", "/invocations", b"{}")
        warm = time.perf_counter() - second
    assert cold >= 0.15 > warm


def test_stats_can_be_read_and_reset_over_http() -> None:
    with ModelServer(NOOP) as server:
        call(server.url, "POST", "/invocations", b"{}")
        status, body = call(server.url, "GET", "/stats")
        assert status == 200 and json.loads(body)["invocations"] == 1
        assert call(server.url, "DELETE", "/stats")[0] == 200
        assert server.stats()["invocations"] == 0


def test_an_oversized_payload_is_refused_before_it_is_read() -> None:
    with ModelServer(NOOP) as server:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"POST /invocations HTTP/1.1\r\nContent-Length: 7000000\r\n\r\n")
            answer = sock.recv(1024)
    assert answer.startswith(b"HTTP/1.1 413 ")


def port_is_closed(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) != 0


def test_stop_leaves_no_thread_or_port_behind() -> None:
    before = threading.active_count()
    server = ModelServer(NOOP)
    url = server.start()
    assert server.start() == url  # starting twice is harmless
    transport = http_transport(url, "application/json")
    run_load_test(transport, b"{}", LoadPlan(warmup=0, requests=5, concurrency=[1, 2]))
    transport.close()
    server.stop()
    server.stop()
    assert threading.active_count() == before
    assert port_is_closed(url)


def test_the_server_stops_by_itself_when_its_lifetime_is_over() -> None:
    server = ModelServer(NOOP, max_lifetime_s=0.2)
    url = server.start()
    assert server.wait(5)
    assert port_is_closed(url)
    server.stop()


def test_a_busy_port_is_a_clear_error() -> None:
    with ModelServer(NOOP) as first:
        port = int(first.url.rsplit(":", 1)[1])
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            ModelServer(NOOP, port=port).start()


def test_metrics_are_published_like_sagemaker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    local_cloudwatch.install()
    profile = SpeedProfile(name="faulty", noop=True, fail_every=10, fail_status=500)
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        started = time.time()
        with ModelServer(
            profile, endpoint_name="ep-1", cloudwatch=cloudwatch, flush_interval_s=0.05
        ) as server:
            for _ in range(30):
                call(server.url, "POST", "/invocations", b"{}")
            call(server.url, "POST", "/invocations", b"{}", "text/csv")
            time.sleep(0.2)  # the periodic flush runs meanwhile
        window = metric_window(started, time.time())
        metrics = read_endpoint_metrics(cloudwatch, "ep-1", window)
        listed = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace="AWS/SageMaker")["Metrics"]}
    assert metrics.invocations == 31
    assert metrics.errors_5xx == 3 and metrics.errors_4xx == 0
    assert metrics.sample_count == 31
    assert metrics.model_latency_ms is not None and metrics.overhead_latency_ms is not None
    assert listed == {
        "ModelLatency",
        "OverheadLatency",
        "Invocations",
        "Invocation4XXErrors",
        "Invocation5XXErrors",
    }
    assert window.end - window.start >= timedelta(minutes=5)


def test_publishing_needs_an_endpoint_name() -> None:
    with pytest.raises(ValueError, match="endpoint_name"):
        ModelServer(NOOP, cloudwatch=object())


def test_named_profiles_for_the_command_line() -> None:
    assert profile_named("noop") == NOOP
    assert profile_named("fixed:2.5").base_latency_ms == 2.5
    assert not profile_named("model").noop
    with pytest.raises(ValueError, match="unknown profile"):
        profile_named("fast")


def test_main_serves_until_its_lifetime_ends() -> None:
    urls: list[str] = []
    assert main(["--profile", "noop", "--lifetime", "0.3"], announce=urls.append) == 0
    assert urls and port_is_closed(urls[0])


def test_parse_rows_accepts_a_single_row() -> None:
    assert parse_rows(json.dumps([0.0] * N_FEATURES).encode(), "application/json").shape == (
        1,
        N_FEATURES,
    )


def cpu(instance_type: str, **extra: Any) -> Candidate:
    return Candidate(instance_type=instance_type, **extra)


def test_declared_profiles_order_the_hardware_as_expected() -> None:
    small, large = profile_for(cpu("ml.c7g.large")), profile_for(cpu("ml.c7g.4xlarge"))
    gpu = profile_for(cpu("ml.g5.xlarge"))
    eia = profile_for(cpu("ml.c5.large", accelerator_type="ml.eia2.medium"))
    plain = profile_for(cpu("ml.c5.large"))
    serverless = profile_for(Candidate(serverless=ServerlessConfig(memory_mb=2048, max_concurrency=5)))
    assert large.base_latency_ms < small.base_latency_ms and large.workers > small.workers
    assert gpu.base_latency_ms < small.base_latency_ms and gpu.max_batch > 1
    assert eia.base_latency_ms < plain.base_latency_ms
    assert serverless.cold_start_ms > 0 and serverless.workers == 5
    assert profile_for(cpu("ml.c7g.large", instance_count=3)).workers == 3 * small.workers
    assert profile_for(cpu("ml.zz9.large")).base_latency_ms == 50.0
    assert all(p.simulated for p in (small, gpu, serverless))
    assert fixed_delay(3).noop and fixed_delay(3).base_latency_ms == 3


def raw_exchange(url: str, request: bytes, *, then: bytes = b"") -> bytes:
    """Send `request` (and `then` after the first answer) on one socket; read until it closes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        answer = sock.recv(65536)
        if then:
            sock.sendall(then)
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_client_asking_to_close_is_answered_then_disconnected() -> None:
    with ModelServer(NOOP) as server:
        answer = raw_exchange(
            server.url, b"GET /ping HTTP/1.1\r\nConnection: close\r\n\r\nGET /ping HTTP/1.1\r\n\r\n"
        )
        old = raw_exchange(server.url, b"POST /invocations HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}")
    assert answer.count(b"HTTP/1.1 200 OK") == 1  # the pipelined second request is dropped
    assert old.startswith(b"HTTP/1.1 200 OK") and old.endswith(b'{"predictions":[]}')


def test_expect_100_continue_is_honoured() -> None:
    with ModelServer(SpeedProfile(name="model")) as server:
        body = sample_payload()
        head = (
            "POST /invocations HTTP/1.1\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
            f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        answer = raw_exchange(server.url, head, then=body)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")
    assert b'"predictions"' in answer
