"""The load generator over HTTP against the local model server (loopback only, bounded)."""

from __future__ import annotations

import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infercost.domain.errors import InputError
from infercost.domain.models import LoadPlan, Slo
from infercost.local.model_server import ModelServer, sample_payload
from infercost.local.profiles import NOOP, SpeedProfile, fixed_delay
from infercost.measurement.http import HttpTransport, http_transport
from infercost.measurement.loadtest import run_load_test, run_sweep_share
from infercost.measurement.results import FAIL_FAST_AFTER, LevelResult, LoadProgress, LoadTestError, RawLevel
from infercost.measurement.sagemaker import SageMakerTransport
from infercost.measurement.sweep import SweepShare, merge_sweep_shares, sweep_share
from infercost.measurement.targets import (
    clear_endpoint_resolvers,
    endpoint_transport,
    register_endpoint_resolver,
)

PAYLOAD = sample_payload()
# Client-side overhead allowed on top of a server's declared delay on a shared 2-core machine.
SLACK_MS = 8.0


@contextmanager
def serving(profile: SpeedProfile) -> Iterator[HttpTransport]:
    with ModelServer(profile, max_lifetime_s=120) as server:
        transport = http_transport(server.url, "application/json", timeout_s=5)
        try:
            yield transport
        finally:
            transport.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serial_latency_matches_a_fixed_delay_server() -> None:
    with serving(fixed_delay(10)) as transport:
        result = run_load_test(transport, PAYLOAD, LoadPlan(warmup=3, requests=40))
    stats = result.latency_ms
    assert result.measured.ok == 40 and result.measured.errors == 0
    assert stats.p50 is not None and 10 * 0.99 <= stats.p50 <= 10 + SLACK_MS
    assert stats.max is not None and stats.max >= 10
    assert result.measured.rps == pytest.approx(40 / result.measured.duration_s)
    assert result.started_at < result.ended_at
    assert result.sweep == [] and not result.partial and result.notes == []


def test_percentiles_follow_a_known_two_mode_distribution() -> None:
    # Served one at a time, 19 of every 20 requests take 2 ms and the 20th takes 60 ms: 190 fast
    # and 10 slow of 200. Each percentile asserted sits at least 7 ranks from the modes' border
    # (p90 is rank 179 of 200, p99 rank 197), so a fast request that a busy machine delays past
    # 30 ms cannot move it; a percentile on the border (p95, rank 189) would flake.
    profile = SpeedProfile(delays_ms=(2,) * 19 + (60,), workers=1, noop=True)
    with serving(profile) as transport:
        result = run_load_test(transport, PAYLOAD, LoadPlan(warmup=0, requests=200))
    stats = result.latency_ms
    assert stats.p50 is not None and 2 * 0.99 <= stats.p50 <= 2 + SLACK_MS
    assert stats.p90 is not None and stats.p90 < 30
    assert stats.p99 is not None and 60 * 0.99 <= stats.p99 < 60 + 30
    assert stats.max is not None and stats.max >= 60
    assert stats.avg == pytest.approx(0.95 * 2 + 0.05 * 60, abs=SLACK_MS)


def test_sweep_measures_each_level_and_finds_the_max_rps_at_slo() -> None:
    plan = LoadPlan(warmup=5, requests=50, concurrency=[1, 2, 4], requests_per_level=80)
    slo = Slo(percentile="p90", max_latency_ms=100)
    seen: list[LoadProgress] = []
    with serving(fixed_delay(5)) as transport:
        result = run_load_test(transport, PAYLOAD, plan, slo=slo, progress=seen.append)
    assert [level.concurrency for level in result.sweep] == [2, 4]
    assert all(level.ok == 80 for level in result.sweep)
    assert result.max_rps_at_slo == max(level.rps for level in result.levels)
    assert result.sweep[1].rps > result.measured.rps * 1.5  # 4 in flight beat 1 in flight
    assert {p.phase for p in seen} == {"warmup", "measured", "sweep"}
    last = [p for p in seen if p.phase == "sweep" and p.concurrency == 4][-1]
    assert last.done == last.total == 80
    assert result.slo == slo


def test_sweep_stops_at_the_first_level_that_misses_the_slo() -> None:
    # One request at a time on the server: two in flight double the latency.
    profile = SpeedProfile(base_latency_ms=20, workers=1, noop=True)
    plan = LoadPlan(warmup=2, requests=20, concurrency=[1, 2, 4, 8], requests_per_level=20)
    slo = Slo(percentile="p90", max_latency_ms=32)
    with serving(profile) as transport:
        result = run_load_test(transport, PAYLOAD, plan, slo=slo)
    assert [level.concurrency for level in result.sweep] == [2]
    assert result.max_rps_at_slo == result.measured.rps
    assert any("sweep stopped: p90" in note and "at concurrency 2" in note for note in result.notes)


def test_errors_are_counted_by_kind_and_stop_the_sweep_past_the_budget() -> None:
    profile = SpeedProfile(noop=True, workers=64, fail_every=4, fail_status=503)
    plan = LoadPlan(warmup=0, requests=40, concurrency=[1, 4], requests_per_level=400)
    with serving(profile) as transport:
        result = run_load_test(transport, PAYLOAD, plan, slo=Slo(percentile="p99", max_latency_ms=500))
    assert result.measured.errors_by_kind == {"http_5xx": 10}
    assert result.measured.ok == 30
    assert "HTTP 503" in result.measured.error_examples["http_5xx"]
    assert any("10 errors of 40 (http_5xx 10)" in note for note in result.notes)
    assert any("successes only" in note for note in result.notes)
    level = result.sweep[0]
    # The level gives up once errors pass the 1 % budget: it never sends all 400.
    assert level.errors > 4 and level.requests < 400
    assert any("error budget" in note for note in result.notes)
    assert result.max_rps_at_slo is None  # a 25 % error rate passes nothing


@pytest.mark.parametrize(("status", "kind"), [(400, "http_4xx"), (429, "throttled"), (500, "http_5xx")])
def test_a_target_that_always_fails_is_reported_in_one_line(status: int, kind: str) -> None:
    profile = SpeedProfile(noop=True, fail_every=1, fail_status=status)
    with serving(profile) as transport, pytest.raises(LoadTestError) as caught:
        run_load_test(transport, PAYLOAD, LoadPlan(warmup=3, requests=100))
    message = str(caught.value)
    assert "\n" not in message
    assert f"first {FAIL_FAST_AFTER} requests" in message and f"({kind})" in message


def test_an_unreachable_url_fails_fast_with_the_reason() -> None:
    transport = http_transport(f"http://127.0.0.1:{free_port()}", "application/json")
    with pytest.raises(LoadTestError, match=r"\(connection\): cannot connect to 127\.0\.0\.1:\d+: "):
        run_load_test(transport, PAYLOAD, LoadPlan(warmup=0, requests=1000))
    transport.close()


def test_requests_that_outlive_the_timeout_count_as_timeouts() -> None:
    with ModelServer(fixed_delay(400)) as server:
        transport = http_transport(server.url, "application/json", timeout_s=0.1)
        with pytest.raises(LoadTestError, match=r"\(timeout\): no response within 0\.1 s"):
            run_load_test(transport, PAYLOAD, LoadPlan(warmup=0, requests=5))
        transport.close()


def test_the_time_budget_stops_the_run_and_marks_it_partial() -> None:
    plan = LoadPlan(warmup=0, requests=10_000, concurrency=[1, 2])
    with serving(fixed_delay(20)) as transport:
        result = run_load_test(transport, PAYLOAD, plan, time_budget_s=0.5)
    assert result.partial
    # The sweep (run first) leaves the measured run its share of the budget.
    assert result.measured.requests >= 5
    assert result.measured.requests < 10_000
    assert all(level.requests < 10_000 for level in result.sweep)
    assert any("measured run stopped after" in note for note in result.notes)


def test_the_measured_run_comes_last_so_no_other_request_falls_in_its_window() -> None:
    plan = LoadPlan(warmup=5, requests=30, concurrency=[1, 4], requests_per_level=60)
    with ModelServer(fixed_delay(2)) as server:
        transport = http_transport(server.url, "application/json")
        before = time.time()
        result = run_load_test(transport, PAYLOAD, plan)
        transport.close()
    # The sweep ran before the measured run: its whole duration lies between the start of the
    # test and the start of the measured run, and nothing follows the measured run.
    sweep_s = result.sweep[0].duration_s
    assert result.started_at - before >= sweep_s
    assert result.ended_at <= time.time()
    assert result.measured.requests == 30 and result.sweep[0].requests == 60


def test_minute_alignment_starts_the_measured_run_on_a_fresh_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("infercost.measurement.loadtest.time.sleep", slept.append)
    # The wall clock shifted to 30 s past a minute: the next boundary is ≈ 31 s away whenever
    # the test runs (it takes well under the 25 s that would move the boundary closer than 5 s).
    real_time = time.time
    shift = 30 - real_time() % 60
    monkeypatch.setattr("infercost.measurement.loadtest.time.time", lambda: real_time() + shift)
    with serving(fixed_delay(1)) as transport:
        run_load_test(transport, PAYLOAD, LoadPlan(warmup=2, requests=5), minute_aligned=True)
        result = run_load_test(
            transport, PAYLOAD, LoadPlan(warmup=2, requests=5), minute_aligned=True, time_budget_s=5
        )
    # The first run waits until one second past the next minute; the second, with 5 s of
    # budget, has no time for that wait, and its result says so instead of sleeping.
    assert len(slept) == 1 and 31 - 25 <= slept[0] <= 31
    assert any("no time left to start the measured run on a fresh minute" in note for note in result.notes)


def test_fresh_second_starts_the_measured_run_in_a_later_second_than_the_sweep() -> None:
    plan = LoadPlan(warmup=3, requests=5, concurrency=[1, 2], requests_per_level=6)
    before_measured: list[float] = []

    def progress(event: LoadProgress) -> None:
        if event.phase != "measured":
            before_measured.append(time.time())

    with serving(fixed_delay(1)) as transport:
        result = run_load_test(transport, PAYLOAD, plan, progress=progress, fresh_second=True)
    # Metrics kept per second (the local model servers) then hold no warm-up or sweep request
    # in the measured run's first second.
    assert before_measured and int(result.started_at) > int(max(before_measured))
    assert result.measured.requests == 5 and result.sweep[0].requests == 6


def test_connections_are_kept_alive_across_phases() -> None:
    with ModelServer(NOOP) as server:
        transport = http_transport(server.url + "/", "application/json")
        run_load_test(transport, PAYLOAD, LoadPlan(warmup=10, requests=50, concurrency=[1, 3]))
        # One connection for the serial phases, three for concurrency 3: none replaced.
        assert len(transport._idle) == 3
        assert server.invocations == 10 + 50 + 50
        transport.close()


@contextmanager
def raw_http_server(reply: Callable[[int], bytes]) -> Iterator[str]:
    """A server that answers the n-th request with the bytes `reply(n)` (framing under test)."""
    counter = iter(range(1_000_000))
    lock = threading.Lock()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = self.request.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, rest = buffer.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                while len(rest) < length:
                    rest += self.request.recv(65536)
                buffer = rest[length:]
                with lock:
                    number = next(counter)
                answer = reply(number)
                for start in range(0, len(answer), 7):  # dribble: exercise partial reads
                    self.request.sendall(answer[start : start + 7])
                if b"connection: close" in answer.lower() or answer.startswith(b"HTTP/1.0"):
                    return

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;x=1\r\nefg\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody until the connection closes",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ],
    ids=["chunked", "until-close", "http-1.0", "no-content"],
)
def test_response_framings_are_all_read(answer: bytes) -> None:
    with raw_http_server(lambda _: answer) as url:
        transport = http_transport(url, "application/json", timeout_s=2)
        result = run_load_test(transport, PAYLOAD, LoadPlan(warmup=1, requests=12, concurrency=[1, 3]))
        transport.close()
    assert result.measured.ok == 12 and result.measured.errors == 0
    assert result.sweep[0].ok == 12


def test_a_server_that_drops_connections_is_counted_and_reconnected() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    broken = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\ntoo short"
    garbage = b"SSH-2.0-OpenSSH\r\n\r\n"
    with raw_http_server(lambda n: [ok, ok, broken, ok, garbage][n % 5]) as url:
        transport = http_transport(url, "application/json", timeout_s=2)
        result = run_load_test(transport, PAYLOAD, LoadPlan(warmup=0, requests=50))
        transport.close()
    assert result.measured.ok == 30
    assert result.measured.errors_by_kind == {"connection": 10, "other": 10}
    assert "not an HTTP response" in result.measured.error_examples["other"]


@pytest.mark.parametrize("url", ["https://example.com", "ftp://x", "http://"])
def test_only_plain_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(InputError, match="expected an http:// URL"):
        http_transport(url, "application/json")


def test_endpoint_transport_uses_a_registered_resolver_else_sagemaker() -> None:
    clear_endpoint_resolvers()
    try:
        register_endpoint_resolver(lambda name: "http://127.0.0.1:9" if name == "local-ep" else None)
        local = endpoint_transport("local-ep", "text/csv", timeout_s=3)
        remote = endpoint_transport("real-ep", "text/csv")
    finally:
        clear_endpoint_resolvers()
    # Both are signed InvokeEndpoint; the local one goes to its model server's URL.
    assert isinstance(local, SageMakerTransport) and (local.host, local.port, local.ssl) == (
        "127.0.0.1",
        9,
        None,
    )
    assert local.path == "/endpoints/local-ep/invocations" and local.timeout_s == 3
    assert isinstance(remote, SageMakerTransport) and remote.endpoint_name == "real-ep"
    assert remote.host == "runtime.sagemaker.us-east-1.amazonaws.com" and remote.ssl is not None
    assert endpoint_transport("local-ep", "text/csv").host == remote.host


plans = st.builds(
    LoadPlan,
    warmup=st.integers(0, 1000),
    requests=st.integers(1, 100_000),
    concurrency=st.lists(st.sampled_from([1, 2, 4, 8, 16, 32, 64]), min_size=1, max_size=7),
    requests_per_level=st.none() | st.integers(1, 100_000),
)


@settings(max_examples=80, deadline=None)
@given(plans, st.sampled_from([1, 2, 3, 4, 8]))
def test_sweep_shares_add_up_to_every_level(plan: LoadPlan, workers: int) -> None:
    shares = [sweep_share(plan, workers, index) for index in range(workers)]
    per_level = plan.requests_per_level or plan.requests
    for level in (level for level in plan.concurrency if level > 1):
        steps = [step for share in shares for step in share if step.level == level]
        assert sum(step.concurrency for step in steps) == level
        assert len(steps) == min(workers, level)
        assert all(step.requests >= 1 for step in steps)
        # Requests follow the connections; rounding moves at most one request per worker.
        assert abs(sum(step.requests for step in steps) - per_level) <= len(steps)


def test_sweep_share_refuses_a_worker_that_does_not_exist() -> None:
    plan = LoadPlan(requests=100, concurrency=[1, 8])
    with pytest.raises(InputError, match="worker 2 of 2 does not exist"):
        sweep_share(plan, 2, 2)
    with pytest.raises(InputError, match="worker 0 of 0"):
        sweep_share(plan, 0, 0)


def test_workers_running_their_shares_at_once_merge_into_whole_levels() -> None:
    plan = LoadPlan(warmup=4, requests=20, concurrency=[1, 2, 4], requests_per_level=40)
    slo = Slo(percentile="p90", max_latency_ms=100)
    shares: list[SweepShare] = []
    with ModelServer(fixed_delay(2), max_lifetime_s=120) as server:

        def work(index: int) -> None:  # each worker is its own Lambda: its own connections
            transport = http_transport(server.url, "application/json", timeout_s=5)
            try:
                shares.append(run_sweep_share(transport, PAYLOAD, plan, worker=index, workers=2, slo=slo))
            finally:
                transport.close()

        threads = [threading.Thread(target=work, args=(index,)) for index in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(share.levels for share in shares) == [[2, 4], [2, 4]]
    assert all(level.concurrency in (1, 2) for share in shares for level in share.sweep)
    merged = merge_sweep_shares(sorted(shares, key=lambda share: share.worker), plan, slo)
    assert [(level.concurrency, level.ok) for level in merged.levels] == [(2, 40), (4, 40)]
    for level in merged.levels:
        assert level.latency_ms is not None and level.latency_ms.p50 is not None
        assert 2 * 0.99 <= level.latency_ms.p50 <= 2 + SLACK_MS
    assert merged.notes[0] == "sweep driven by 2 workers at once, merged level by level"
    assert not merged.partial


def _level(concurrency: int, latencies_ms: list[float], errors: int = 0) -> LevelResult:
    raw = RawLevel(concurrency, duration_s=1.0)
    raw.latencies_ms.extend(latencies_ms)
    for _ in range(errors):
        raw.error("http_5xx", "503 Service Unavailable")
    return raw.to_level()


def test_a_merged_sweep_stops_where_one_machine_would_have() -> None:
    plan = LoadPlan(requests=10, concurrency=[1, 4, 8, 16], requests_per_level=10)
    slo = Slo(percentile="p90", max_latency_ms=50)
    fast, slow = [10.0] * 5, [90.0] * 5
    shares = [
        SweepShare(
            worker=0, workers=2, levels=[4, 8, 16], sweep=[_level(2, fast), _level(4, slow), _level(8, slow)]
        ),
        SweepShare(worker=1, workers=2, levels=[4, 8], sweep=[_level(2, fast), _level(4, slow)]),
    ]
    merged = merge_sweep_shares(shares, plan, slo)
    # Level 8 misses the SLO once merged: kept (it is the evidence), and nothing after it.
    assert [level.concurrency for level in merged.levels] == [4, 8]
    assert merged.levels[0].ok == 10 and merged.levels[0].rps == pytest.approx(10.0)
    # 90 ms within the sketch's 1 % relative accuracy.
    assert re.fullmatch(r"sweep stopped: p90 (89|90)\.\d ms > 50 ms at concurrency 8", merged.notes[-1])


def test_a_merged_sweep_ends_before_a_level_a_worker_did_not_reach() -> None:
    plan = LoadPlan(requests=10, concurrency=[1, 4, 8], requests_per_level=10)
    shares = [
        SweepShare(worker=0, workers=2, levels=[4, 8], sweep=[_level(2, [5.0] * 5), _level(4, [5.0] * 5)]),
        SweepShare(
            worker=1,
            workers=2,
            levels=[4],
            sweep=[_level(2, [5.0] * 5)],
            partial=True,
            notes=["time budget ran out before concurrency 4"],
        ),
    ]
    merged = merge_sweep_shares(shares, plan, None)
    assert [level.concurrency for level in merged.levels] == [4]
    assert merged.partial
    assert "worker 1: time budget ran out before concurrency 4" in merged.notes
    assert merged.notes[-1] == "sweep ends before concurrency 8: 1 of 2 workers did not run it"


def test_a_merged_sweep_stops_at_the_error_budget() -> None:
    plan = LoadPlan(requests=10, concurrency=[1, 2, 4], requests_per_level=10, max_error_rate=0.1)
    shares = [
        SweepShare(
            worker=0, workers=2, levels=[2, 4], sweep=[_level(1, [5.0] * 5), _level(2, [5.0] * 3, errors=2)]
        ),
        SweepShare(worker=1, workers=2, levels=[2, 4], sweep=[_level(1, [5.0] * 5), _level(2, [5.0] * 5)]),
    ]
    merged = merge_sweep_shares(shares, plan, None)
    assert [(level.concurrency, level.errors) for level in merged.levels] == [(2, 0), (4, 2)]
    assert "exceeds the 10% error budget" in merged.notes[-1]


def test_a_load_test_given_a_sweep_drives_only_the_warm_up_and_the_measured_run() -> None:
    plan = LoadPlan(warmup=3, requests=12, concurrency=[1, 4], requests_per_level=400)
    swept = merge_sweep_shares(
        [SweepShare(worker=0, workers=1, levels=[4], sweep=[_level(4, [3.0] * 400)])], plan, None
    )
    with ModelServer(NOOP, max_lifetime_s=60) as server:
        transport = http_transport(server.url, "application/json", timeout_s=5)
        try:
            result = run_load_test(transport, PAYLOAD, plan, swept=swept)
        finally:
            transport.close()
        served = server.invocations
    assert served == 3 + 12
    assert [(level.concurrency, level.ok) for level in result.sweep] == [(4, 400)]
    assert result.notes[0] == "sweep driven by 1 workers at once, merged level by level"


def test_a_local_worker_pool_drives_the_sweep_from_several_processes() -> None:
    plan = LoadPlan(warmup=2, requests=10, concurrency=[1, 4], requests_per_level=200)
    with serving(NOOP) as transport:
        result = run_load_test(transport, PAYLOAD, plan, workers=2)
    assert result.measured.concurrency == 1 and result.measured.ok == 10
    assert [(level.concurrency, level.ok) for level in result.sweep] == [(4, 200)]


def test_the_time_budget_can_also_end_a_sweep_level() -> None:
    plan = LoadPlan(warmup=0, requests=5, concurrency=[1, 2, 4], requests_per_level=10_000)
    with serving(fixed_delay(20)) as transport:
        result = run_load_test(transport, PAYLOAD, plan, time_budget_s=0.6)
    assert result.partial and result.measured.ok == 5
    assert [level.concurrency for level in result.sweep] == [2]
    assert 0 < result.sweep[0].requests < 10_000
    assert "time budget ran out during concurrency 2" in result.notes
    assert any("in flight when the time budget ran out were not counted" in note for note in result.notes)


def test_without_uvloop_the_standard_event_loop_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import sys

    from infercost.measurement.transport import new_event_loop

    monkeypatch.setitem(sys.modules, "uvloop", None)
    loop = new_event_loop()
    try:
        assert isinstance(loop, asyncio.BaseEventLoop)
        assert type(loop).__module__.startswith("asyncio")
    finally:
        loop.close()


def _throttle(busy_ms: float) -> Callable[[LoadProgress], None]:
    """A progress callback that keeps the client's event loop on CPU for `busy_ms` of each 50 ms
    watchdog tick: a client with a fraction of a core, as a too-small Lambda would be."""

    def burn(_: LoadProgress) -> None:
        until = time.perf_counter() + busy_ms / 1000
        while time.perf_counter() < until:
            pass

    return burn


def test_a_saturated_client_marks_its_level_and_does_not_pass_for_the_models_limit() -> None:
    plan = LoadPlan(warmup=2, requests=20, concurrency=[1, 4, 8], requests_per_level=400)
    slo = Slo(percentile="p90", max_latency_ms=40)
    with serving(fixed_delay(5)) as transport:
        result = run_load_test(transport, PAYLOAD, plan, slo=slo, progress=_throttle(45))
    first = result.sweep[0]
    assert first.client_bound and len(result.sweep) == 1  # the sweep stops at the client's limit
    assert first.client_cpu_share is not None and first.client_lag_ms is not None
    assert first.client_cpu_share >= 0.9 or first.client_lag_ms >= 25
    assert result.client_bound
    assert any("the load client was saturated" in note and "load.workers" in note for note in result.notes)
    assert not any(note.startswith("sweep stopped: p90") for note in result.notes)


def test_an_unhurried_client_is_not_marked() -> None:
    plan = LoadPlan(warmup=2, requests=20, concurrency=[1, 4], requests_per_level=200)
    with serving(fixed_delay(5)) as transport:
        result = run_load_test(transport, PAYLOAD, plan)
    level = result.sweep[0]
    assert level.duration_s >= 0.2 and level.client_cpu_share is not None
    assert level.client_cpu_share < 0.5 and not level.client_bound and not result.client_bound


def test_merged_levels_keep_the_busiest_clients_figures() -> None:
    a = RawLevel(2, duration_s=1.0, client_cpu_share=0.95, client_lag_ms=3.0)
    a.latencies_ms.extend([5.0, 6.0])
    b = RawLevel(2, duration_s=1.0, client_cpu_share=0.2, client_lag_ms=40.0)
    b.latencies_ms.extend([5.0])
    merged = a.merged_with(b)
    assert (merged.client_cpu_share, merged.client_lag_ms, merged.client_bound) == (0.95, 40.0, True)
    from infercost.measurement.results import merge_level_results

    whole = merge_level_results([a.to_level(), RawLevel(2, duration_s=1.0, client_cpu_share=0.1).to_level()])
    assert whole.client_bound and whole.client_cpu_share == 0.95
