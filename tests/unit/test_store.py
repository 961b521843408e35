"""The results store on moto's DynamoDB: round trips, idempotent and ordered writes, queries."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infercost.data.clients import new_client
from infercost.data.store import (
    BY_RUN_INDEX,
    OPEN_RUNS_INDEX,
    TTL_ATTRIBUTE,
    ResultsStore,
    create_table,
    from_attribute,
    from_item,
    table_definition,
    to_attribute,
    to_item,
)
from infercost.domain.errors import InputError
from infercost.domain.models import Candidate, ServerlessConfig, Slo
from infercost.domain.records import (
    CANDIDATE_STATUS_RANK,
    Artifact,
    CandidateRecord,
    RunKey,
    RunRecord,
    StoreError,
    candidate_sk,
    guard_key,
    iso_utc,
    run_sk,
)
from infercost.domain.results import CandidateResult, LatencyStats, RankedCandidate, Recommendation

TABLE = "infercost-results-test"
MODEL = "densenet121"
SLO = Slo(percentile="p90", max_latency_ms=80)
T0 = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)


@pytest.fixture(scope="module")
def aws() -> Iterator[Any]:
    """One moto DynamoDB for the module (credentials come from tests/conftest.py)."""
    from moto import mock_aws

    with mock_aws():
        yield new_client("dynamodb", region="us-east-1")


_tables = itertools.count()


@pytest.fixture
def client(aws: Any) -> Any:
    return aws


@pytest.fixture
def table(client: Any) -> Iterator[str]:
    name = f"{TABLE}-{next(_tables)}"
    create_table(client, name)
    yield name
    client.delete_table(TableName=name)


@pytest.fixture
def store(client: Any, table: str) -> ResultsStore:
    return ResultsStore(client, table)


def at(minutes: float) -> str:
    return iso_utc(T0 + timedelta(minutes=minutes))


def run(
    run_id: str,
    minutes: float = 0,
    *,
    model: str = MODEL,
    slo: Slo | None = SLO,
    status: str = "RUNNING",
    **fields: Any,
) -> RunRecord:
    return RunRecord.model_validate(
        {
            "model": model,
            "started_at": at(minutes),
            "run_id": run_id,
            "status": status,
            "slo": slo,
            **fields,
        }
    )


def candidate(run_id: str, index: int, status: str = "PENDING", **fields: Any) -> CandidateRecord:
    return CandidateRecord.model_validate(
        {
            "run_id": run_id,
            "index": index,
            "candidate": Candidate(instance_type="ml.c5.large", instance_count=index + 1),
            "status": status,
            **fields,
        }
    )


def recommendation() -> Recommendation:
    latency = LatencyStats(avg=47.85, p50=47.1, p90=51.74, p95=53.0, p99=58.2, max=70.3)
    entry = RankedCandidate(
        rank=1,
        candidate=Candidate(instance_type="ml.c5.large", accelerator_type="ml.eia2.medium"),
        label="ml.c5.large + ml.eia2.medium",
        price_per_hour_usd=0.287,
        price_source="snapshot",
        cost_per_100k_usd=0.287 / 3600 * 0.04785 * 100_000,
        max_rps_at_slo=20.4,
        latency_ms=latency,
        slo_latency_ms=51.74,
        meets_slo=True,
        slo_verdict="P90 51.74 ms ≤ 80 ms",
        pareto_optimal=True,
        warnings=["Elastic Inference is retired for new customers"],
    )
    return Recommendation(
        model=MODEL,
        region="us-east-1",
        slo=SLO,
        recommended=entry,
        reason="cheapest candidate that meets P90 ≤ 80 ms",
        ranked=[entry],
    )


def succeed(store: ResultsStore, record: RunRecord, minutes: float = 10) -> None:
    assert store.finish_run(
        record, status="SUCCEEDED", finished_at=at(minutes), recommendation=recommendation()
    )


# --- serialization ----------------------------------------------------------------------------

AWKWARD_FLOATS = [0.1, 1 / 3, 47.85, 1e-7, 2.0**-40, 123456789.123, -0.001, 1e100, 5e-120]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x == 0 or 1e-120 < abs(x) < 1e120)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_attribute_round_trip_is_exact(value: Any) -> None:
    back = from_attribute(to_attribute(value))
    assert back == value
    # Floats stay floats, and are the very same number (no binary/decimal drift).
    assert json.dumps(back, sort_keys=True) == json.dumps(value, sort_keys=True)


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (math.nan, "x"),
        (math.inf, "x"),
        ({"a": [1.0, -math.inf]}, "x.a[1]"),
        (1e200, "x"),
        (1e-200, "x"),
        (10**40 + 1, "x"),
        ({"s": {1, 2}}, "x.s"),
    ],
)
def test_unstorable_values_are_refused_naming_the_path(value: Any, path: str) -> None:
    with pytest.raises(StoreError) as raised:
        to_attribute(value, "x")
    assert raised.value.field == path
    assert "\n" not in str(raised.value)


def test_other_attribute_types_are_read() -> None:
    assert from_attribute({"SS": ["b", "a"]}) == ["a", "b"]
    assert from_attribute({"NS": ["2", "1.5"]}) == [1.5, 2]
    assert from_attribute({"B": b"\x00\x01"}) == b"\x00\x01"
    assert from_attribute({"N": "1E+2"}) == 100.0
    assert isinstance(from_attribute({"N": "100"}), int)
    with pytest.raises(StoreError, match="unknown DynamoDB attribute type"):
        from_attribute({"X": "?"})


def test_none_values_are_left_out_of_items() -> None:
    assert to_item({"a": 1, "b": None}) == {"a": {"N": "1"}}
    assert from_item({"a": {"N": "1"}, "b": {"NULL": True}}) == {"a": 1, "b": None}


# --- records ----------------------------------------------------------------------------------


def test_timestamps_are_normalized_to_utc_milliseconds() -> None:
    plus_two = timezone(timedelta(hours=2))
    record = run("r1")
    assert record.started_at == "2024-05-01T12:00:00.123Z"
    assert RunKey(model=MODEL, started_at="2024-05-01T12:00:00Z", run_id="r").started_at == (
        "2024-05-01T12:00:00.000Z"
    )
    local = datetime(2024, 5, 1, 14, 0, 0, 999999, tzinfo=plus_two)
    assert RunKey(model=MODEL, started_at=local, run_id="r").started_at == "2024-05-01T12:00:00.999Z"
    with pytest.raises(ValueError, match="time zone"):
        RunKey(model=MODEL, started_at="2024-05-01T12:00:00", run_id="r")
    with pytest.raises(ValueError, match="time zone"):
        RunKey(model=MODEL, started_at=datetime(2024, 5, 1), run_id="r")
    with pytest.raises(ValueError, match="ISO-8601"):
        RunKey(model=MODEL, started_at="yesterday", run_id="r")
    with pytest.raises(InputError, match="time zone"):
        iso_utc(datetime(2024, 5, 1))


@pytest.mark.parametrize("bad", ["a#b", "a b", ""])
def test_ids_that_would_break_sort_keys_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        RunKey(model=MODEL, started_at=at(0), run_id=bad)
    with pytest.raises(ValueError):
        RunKey(model=bad, started_at=at(0), run_id="r")


def test_candidate_error_is_one_line_and_log_tail_is_bounded() -> None:
    record = candidate(
        "r1",
        0,
        "FAILED",
        error="endpoint failed:\n  container exited\t(code 1)",
        log_tail="\n".join(f"line {i} " + "x" * 2000 for i in range(500)),
    )
    assert record.error == "endpoint failed: container exited (code 1)"
    assert record.log_tail is not None
    assert len(record.log_tail) == 100
    assert record.log_tail[-1].startswith("line 499 ")
    assert all(len(line) <= 1000 for line in record.log_tail)


def test_keys_follow_the_documented_layout() -> None:
    key = run("abc").key
    assert (key.pk, key.sk) == ("MODEL#densenet121", "RUN#2024-05-01T12:00:00.123Z#abc")
    assert run_sk(key.started_at, "abc") == key.sk
    assert candidate_sk(key.started_at, "abc", 3) == key.sk + "#CANDIDATE#03"


# --- round trips ------------------------------------------------------------------------------


def test_every_run_field_round_trips(store: ResultsStore) -> None:
    original = run(
        "r-all",
        artifact=Artifact(bucket="b", key="models/densenet121/model.tar.gz", version_id="v1", etag="e"),
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:infercost:r-all",
        region="us-east-1",
        spec={
            "model": {"name": MODEL, "environment": {}},
            "load": {"concurrency": [1, 2, 4], "max_error_rate": 0.01},
            "floats": AWKWARD_FLOATS,
            "nested": {"deep": [{"x": 0.1, "flag": True, "none": None, "empty": ""}]},
        },
        status="SUCCEEDED",
        finished_at=at(12.5),
        timings={"prepare": 0.25, "benchmark": 312.125, "total": 1 / 3},
        endpoint_seconds=1234.5,
        benchmark_cost_usd=0.0987654321,
        recommendation=recommendation(),
        report_key="reports/densenet121/r-all.html",
        regressions=[{"kind": "cost_increase", "change_pct": 18.4, "previous_value": 0.38}],
        error=None,
    )
    assert store.create_run(original)

    by_id = store.get_run("r-all")
    by_key = store.get_run_by_key(original.key)
    assert by_id is not None and by_key is not None
    assert by_id.run == original
    assert by_key.run == original
    assert by_id.run.spec is not None
    assert by_id.run.spec["floats"] == AWKWARD_FLOATS
    assert all(isinstance(x, float) for x in by_id.run.spec["floats"])
    assert by_id.run.parsed_recommendation() == recommendation()


def test_every_candidate_field_round_trips(store: ResultsStore) -> None:
    parent = run("r-cand")
    store.create_run(parent)
    result = CandidateResult(
        candidate=Candidate(serverless=ServerlessConfig(memory_mb=4096, max_concurrency=10)),
        price_per_hour_usd=None,
        latency_ms=LatencyStats(avg=47.85, p50=47.1, p90=51.74, max=70.3),
        max_rps_at_slo=20.4,
        invocations=1000,
        errors=2,
        source="cloudwatch",
    )
    original = CandidateRecord(
        run_id="r-cand",
        index=7,
        candidate=Candidate(serverless=ServerlessConfig(memory_mb=4096)),
        status="COMPLETED",
        endpoint_name="infercost-r-cand-07-sls-4096",
        error="slow cold start",
        failure_reason="none",
        log_tail=["booting", "ready", "ünïcode ✓"],
        result=result,
        client_latency_ms={"avg": 48.0, "p90": 52.25, "count": 1000},
        server_latency_ms={"avg": 45.5, "p90": 50.125},
        sweep=[
            {"concurrency": 1, "rps": 20.5, "latency_ms": {"p90": 51.0}},
            {"concurrency": 8, "rps": 140.25, "latency_ms": {"p90": 79.9}, "errors": 0},
        ],
        endpoint_created_at=at(1),
        endpoint_deleted_at=at(9),
        endpoint_seconds=480.5,
        benchmark_cost_usd=0.0123,
        updated_at=at(9.5),
        expires_at=1_900_000_000,
    )
    assert store.put_candidate(parent, original)

    view = store.get_run("r-cand")
    assert view is not None
    assert view.candidates == [original]
    assert view.candidates[0].parsed_result() == result
    assert view.candidates[0].is_terminal


def test_nan_is_refused_and_nothing_is_written(store: ResultsStore) -> None:
    with pytest.raises(StoreError) as raised:
        store.create_run(run("r-nan", benchmark_cost_usd=math.nan))
    assert raised.value.field == "benchmark_cost_usd"
    assert "finite" in str(raised.value)
    with pytest.raises(StoreError) as raised:
        store.create_run(run("r-nan", spec={"load": {"levels": [1.0, math.inf]}}))
    assert raised.value.field == "spec.load.levels[1]"
    assert store.history(MODEL) == []

    parent = run("r-ok")
    store.create_run(parent)
    with pytest.raises(StoreError):
        store.put_candidate(parent, candidate("r-ok", 0, result={"latency_ms": {"avg": math.nan}}))
    with pytest.raises(StoreError):
        store.finish_run(parent, status="SUCCEEDED", finished_at=at(1), benchmark_cost_usd=math.inf)
    view = store.get_run_by_key(parent)
    assert view is not None
    assert view.candidates == []
    assert view.run.status == "RUNNING"


# --- create_run -------------------------------------------------------------------------------


def test_create_run_twice_is_a_no_op(store: ResultsStore) -> None:
    first = run("r1", region="us-east-1")
    assert store.create_run(first) is True
    assert store.create_run(run("r1", region="eu-west-1", error="retry")) is False
    view = store.get_run("r1")
    assert view is not None
    assert view.run == first
    assert store.history(MODEL) == [first]
    assert store.list_models() == [MODEL]


def test_a_failed_condition_is_neither_retried_nor_raised(store: ResultsStore, client: Any) -> None:
    seen: list[int] = []

    def count(attempts: int, **_: Any) -> None:
        seen.append(attempts)

    client.meta.events.register("needs-retry.dynamodb.PutItem", count)
    try:
        store.create_run(run("r1"))
        seen.clear()
        assert store.create_run(run("r1")) is False
    finally:
        client.meta.events.unregister("needs-retry.dynamodb.PutItem", count)
    # The conditional put and the registry put: one attempt each, no retry of the failed one.
    assert seen == [1, 1]


def test_throttling_is_retried_by_the_standard_retry_client(store: ResultsStore, client: Any) -> None:
    store.create_run(run("r1"))
    sent: list[int] = []

    def throttle_first(**_: Any) -> AWSResponse | None:
        # Runs before moto answers; a read, so moto also serving the throttled attempt is harmless.
        sent.append(1)
        if len(sent) > 1:
            return None
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
        return AWSResponse("https://dynamodb", 400, {"x-amzn-requestid": "1"}, _RawBody(body.encode()))

    client.meta.events.register_first("before-send.dynamodb.Query", throttle_first)
    try:
        assert [r.run_id for r in store.history(MODEL)] == ["r1"]
    finally:
        client.meta.events.unregister("before-send.dynamodb.Query", throttle_first)
    assert client.meta.config.retries["mode"] == "standard"
    assert len(sent) == 2


class _RawBody:
    def __init__(self, data: bytes):
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


# --- put_candidate ----------------------------------------------------------------------------


def test_candidate_retries_never_duplicate(store: ResultsStore) -> None:
    parent = run("r1")
    store.create_run(parent)
    pending = candidate("r1", 0)
    assert store.put_candidate(parent, pending)
    assert store.put_candidate(parent, pending)
    done = candidate("r1", 0, "COMPLETED", result={"latency_ms": {"avg": 47.85}})
    assert store.put_candidate(parent.key, done)
    assert store.put_candidate(parent.key, done)
    view = store.get_run("r1")
    assert view is not None
    assert [(c.index, c.status) for c in view.candidates] == [(0, "COMPLETED")]


@pytest.mark.parametrize(
    ("first", "late"),
    [
        ("COMPLETED", "RUNNING"),
        ("COMPLETED", "PENDING"),
        ("COMPLETED", "FAILED"),
        ("FAILED", "COMPLETED"),
        ("SKIPPED", "FAILED"),
        ("RUNNING", "PENDING"),
    ],
)
def test_a_late_write_never_replaces_a_newer_state(store: ResultsStore, first: str, late: str) -> None:
    parent = run("r1")
    store.create_run(parent)
    assert store.put_candidate(parent, candidate("r1", 0, first, endpoint_name="first"))
    assert not store.put_candidate(parent, candidate("r1", 0, late, endpoint_name="late", error="x"))
    view = store.get_run("r1")
    assert view is not None
    stored = view.candidates[0]
    assert (stored.status, stored.endpoint_name, stored.error) == (first, "first", None)


def test_a_later_step_keeps_what_an_earlier_step_wrote(store: ResultsStore) -> None:
    parent = run("r1")
    store.create_run(parent)
    store.put_candidate(parent, candidate("r1", 0))
    store.put_candidate(
        parent,
        candidate("r1", 0, "RUNNING", endpoint_name="infercost-r1-00-c5", endpoint_created_at=at(1)),
    )
    store.put_candidate(parent, candidate("r1", 0, "COMPLETED", result={"latency_ms": {"avg": 3.5}}))
    view = store.get_run_by_key(parent)
    assert view is not None
    stored = view.candidates[0]
    assert stored.status == "COMPLETED"
    assert stored.endpoint_name == "infercost-r1-00-c5"
    assert stored.endpoint_created_at == at(1)
    assert stored.result == {"latency_ms": {"avg": 3.5}}


def test_a_candidate_of_another_run_is_refused(store: ResultsStore) -> None:
    with pytest.raises(InputError, match="not 'r1'"):
        store.put_candidate(run("r1"), candidate("r2", 0))


_runs_for_sequences = itertools.count()
statuses = st.sampled_from(list(CANDIDATE_STATUS_RANK))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(statuses, min_size=1, max_size=6))
def test_any_write_order_ends_in_the_first_terminal_or_furthest_state(
    store: ResultsStore, sequence: list[str]
) -> None:
    parent = run(f"seq{next(_runs_for_sequences)}")
    store.create_run(parent)
    applied = [
        store.put_candidate(parent, candidate(parent.run_id, 0, status, error=f"write {i}"))
        for i, status in enumerate(sequence)
    ]
    view = store.get_run_by_key(parent)
    assert view is not None
    stored = view.candidates[0]

    terminal = [s for s in sequence if CANDIDATE_STATUS_RANK[s] == 2]
    expected_status = terminal[0] if terminal else max(sequence, key=CANDIDATE_STATUS_RANK.get)
    assert stored.status == expected_status
    # The last write that was applied is what the item holds.
    last_applied = max(i for i, ok in enumerate(applied) if ok)
    assert stored.error == f"write {last_applied}"
    # A write is applied exactly when it does not move the candidate backwards or sideways.
    state: str | None = None
    for status, ok in zip(sequence, applied, strict=True):
        allowed = (
            state is None or CANDIDATE_STATUS_RANK[state] < CANDIDATE_STATUS_RANK[status] or state == status
        )
        assert ok == allowed
        if allowed:
            state = status


# --- finish_run and update_run ----------------------------------------------------------------


def test_finish_run_is_idempotent_and_never_flips(store: ResultsStore) -> None:
    good, bad = run("good"), run("bad", 1)
    store.create_run(good)
    store.create_run(bad)

    assert store.finish_run(good, status="SUCCEEDED", finished_at=at(5), benchmark_cost_usd=0.42)
    assert store.finish_run(good, status="SUCCEEDED", finished_at=at(5), benchmark_cost_usd=0.42)
    assert not store.finish_run(good, status="FAILED", finished_at=at(6), error="late failure")

    assert store.finish_run(bad.key, status="FAILED", finished_at=at(7), error="no candidate")
    assert not store.finish_run(bad.key, status="SUCCEEDED", finished_at=at(8))

    stored_good = store.get_run("good")
    stored_bad = store.get_run("bad")
    assert stored_good is not None and stored_bad is not None
    assert (stored_good.run.status, stored_good.run.error) == ("SUCCEEDED", None)
    assert stored_good.run.finished_at == at(5)
    assert stored_good.run.benchmark_cost_usd == 0.42
    assert (stored_bad.run.status, stored_bad.run.error) == ("FAILED", "no candidate")
    assert stored_bad.run.finished_at == at(7)


def test_finish_run_of_a_missing_run_creates_nothing(store: ResultsStore) -> None:
    assert not store.finish_run(run("ghost"), status="FAILED", finished_at=at(1), error="x")
    assert store.get_run("ghost") is None
    assert store.history(MODEL) == []


def test_finish_run_accepts_only_terminal_statuses(store: ResultsStore) -> None:
    with pytest.raises(InputError, match="SUCCEEDED or FAILED"):
        store.finish_run(run("r1"), status="RUNNING", finished_at=at(1))


def test_finish_run_validates_its_fields(store: ResultsStore) -> None:
    store.create_run(run("r1"))
    with pytest.raises(InputError) as raised:
        store.finish_run(run("r1"), status="SUCCEEDED", finished_at="not a time")
    assert raised.value.field == "finished_at"


def test_update_run_sets_fields_and_never_the_status(store: ResultsStore) -> None:
    record = run("r1")
    store.create_run(record)
    succeed(store, record)
    notes = [{"kind": "cost_increase", "message": "Cost rose 18.4 %", "change_pct": 18.4}]
    assert store.update_run(record, report_key="reports/r1.html", regressions=notes)
    view = store.get_run("r1")
    assert view is not None
    assert view.run.status == "SUCCEEDED"
    assert view.run.report_key == "reports/r1.html"
    assert view.run.regressions == notes
    assert view.run.recommendation == recommendation().to_json()

    with pytest.raises(InputError, match="cannot change status"):
        store.update_run(record, status="FAILED")
    with pytest.raises(InputError, match="no field 'colour'"):
        store.update_run(record, colour="blue")
    assert not store.update_run(record)
    assert not store.update_run(run("ghost"), report_key="x")
    assert store.get_run("ghost") is None


def test_regressions_may_be_passed_as_models(store: ResultsStore) -> None:
    from infercost.domain.regression import Regression

    record = run("r1")
    store.create_run(record)
    note = Regression(kind="cost_increase", message="Cost rose.", change_pct=12.5)
    assert store.finish_run(record, status="SUCCEEDED", finished_at=at(1), regressions=[note])
    view = store.get_run("r1")
    assert view is not None and view.run.regressions is not None
    assert Regression.model_validate(view.run.regressions[0]) == note


# --- queries ----------------------------------------------------------------------------------


def test_get_run_returns_candidates_in_spec_order(store: ResultsStore) -> None:
    parent = run("r1")
    store.create_run(parent)
    for index in [11, 2, 0, 10, 1]:
        store.put_candidate(parent, candidate("r1", index))
    # A run whose id starts with the same letters, at the same instant, stays apart.
    sibling = run("r10")
    store.create_run(sibling)
    store.put_candidate(sibling, candidate("r10", 0, "SKIPPED"))

    for view in (store.get_run("r1"), store.get_run_by_key(parent)):
        assert view is not None
        assert view.run.run_id == "r1"
        assert [c.index for c in view.candidates] == [0, 1, 2, 10, 11]
        assert {c.status for c in view.candidates} == {"PENDING"}
    assert store.get_run("nope") is None
    assert store.get_run_by_key(run("nope")) is None


def test_history_is_newest_first_and_limited(client: Any, table: str) -> None:
    store = ResultsStore(client, table, page_size=4)
    for minute in [5, 1, 9, 3, 7]:
        record = run(f"r{minute}", minute)
        store.create_run(record)
        for index in range(6):
            store.put_candidate(record, candidate(record.run_id, index))
    store.create_run(run("other", 4, model="resnet50"))

    assert [r.run_id for r in store.history(MODEL)] == ["r9", "r7", "r5", "r3", "r1"]
    assert [r.run_id for r in store.history(MODEL, limit=2)] == ["r9", "r7"]
    assert [r.run_id for r in store.history("resnet50")] == ["other"]
    assert store.history("unknown") == []
    with pytest.raises(InputError, match="at least 1"):
        store.history(MODEL, limit=0)


def test_history_pages_past_one_megabyte_of_candidates(store: ResultsStore, client: Any) -> None:
    # 3 runs x 5 candidates x ~100 KB: DynamoDB cuts every page at 1 MB, and most of what a
    # page holds is candidate items that history must skip before it has its runs.
    bulky = [{"concurrency": 1, "histogram": "x" * 100_000, "p90_ms": 51.74}]
    for minute in range(3):
        record = run(f"big{minute}", minute)
        store.create_run(record)
        for index in range(5):
            store.put_candidate(record, candidate(record.run_id, index, sweep=bulky))

    pages: list[int] = []

    def count(**_: Any) -> None:
        pages.append(1)

    client.meta.events.register("before-call.dynamodb.Query", count)
    try:
        runs = store.history(MODEL, limit=3)
    finally:
        client.meta.events.unregister("before-call.dynamodb.Query", count)
    assert [r.run_id for r in runs] == ["big2", "big1", "big0"]
    assert len(pages) >= 2

    view = store.get_run("big1")
    assert view is not None
    assert [c.index for c in view.candidates] == list(range(5))
    assert view.candidates[4].sweep == bulky


def test_previous_successful_run_respects_slo_and_order(client: Any, table: str) -> None:
    store = ResultsStore(client, table, page_size=3)
    other_slo = Slo(percentile="p99", max_latency_ms=80)
    plan = [
        ("a", 1, SLO, "SUCCEEDED"),
        ("b", 2, SLO, "SUCCEEDED"),
        ("c", 3, other_slo, "SUCCEEDED"),
        ("d", 4, SLO, "FAILED"),
        ("e", 5, SLO, "SUCCEEDED"),  # the run being compared
        ("f", 6, SLO, "SUCCEEDED"),  # newer: never "previous"
    ]
    records = {}
    for run_id, minute, slo, status in plan:
        record = run(run_id, minute, slo=slo)
        records[run_id] = record
        store.create_run(record)
        store.put_candidate(record, candidate(run_id, 0))
        store.finish_run(record, status=status, finished_at=at(minute + 0.5))

    same_value = Slo(percentile="p90", max_latency_ms=80.0)
    previous = store.previous_successful_run(MODEL, records["e"], same_value)
    assert previous is not None and previous.run_id == "b"
    previous = store.previous_successful_run(MODEL, records["e"].key, other_slo)
    assert previous is not None and previous.run_id == "c"
    assert store.previous_successful_run(MODEL, records["a"], SLO) is None
    assert store.previous_successful_run(MODEL, records["e"], Slo(percentile="p50", max_latency_ms=1)) is None


def test_list_models_reads_the_registry(store: ResultsStore) -> None:
    assert store.list_models() == []
    for model in ["resnet50", MODEL, "bert-base"]:
        store.create_run(run("r1", model=model))
        store.create_run(run("r1", model=model))
    assert store.list_models() == ["bert-base", MODEL, "resnet50"]


def test_a_malformed_item_is_reported_not_raised_as_a_traceback(
    store: ResultsStore, client: Any, table: str
) -> None:
    key = run("broken").key
    client.put_item(
        TableName=table,
        Item=to_item({"PK": key.pk, "SK": key.sk, "item_type": "run", "run_id": "broken", "model": MODEL}),
    )
    with pytest.raises(StoreError, match="does not parse as a RunRecord"):
        store.get_run("broken")


def test_stored_json_that_no_longer_parses_is_a_store_error() -> None:
    record = run("r1", recommendation={"model": MODEL})
    with pytest.raises(
        StoreError, match=r"recommendation of run r1 does not parse: recommendation\.region"
    ) as raised:
        record.parsed_recommendation()
    assert "\n" not in str(raised.value)
    with pytest.raises(StoreError, match="result of candidate 0"):
        candidate("r1", 0, result={"latency_ms": {}}).parsed_result()
    assert run("r1").parsed_recommendation() is None
    assert candidate("r1", 0).parsed_result() is None


# --- table and trigger guard ------------------------------------------------------------------


def test_table_definition_is_the_documented_schema(client: Any, table: str) -> None:
    definition = table_definition()
    assert "TableName" not in definition
    assert table_definition("x")["TableName"] == "x"
    described = client.describe_table(TableName=table)["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in described["KeySchema"]} == {
        "PK": "HASH",
        "SK": "RANGE",
    }
    indexes = {index["IndexName"]: index for index in described["GlobalSecondaryIndexes"]}
    assert set(indexes) == {BY_RUN_INDEX, OPEN_RUNS_INDEX}
    assert [k["AttributeName"] for k in indexes[BY_RUN_INDEX]["KeySchema"]] == ["run_id", "SK"]
    assert [k["AttributeName"] for k in indexes[OPEN_RUNS_INDEX]["KeySchema"]] == ["open_run", "SK"]
    assert {index["Projection"]["ProjectionType"] for index in indexes.values()} == {"ALL"}
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == TTL_ATTRIBUTE


def test_only_runs_still_running_are_in_the_open_runs_index(store: ResultsStore) -> None:
    running, finished = run("r1"), run("r2")
    store.create_run(running)
    store.create_run(finished)
    store.put_candidate(running, candidate("r1", 0))
    succeed(store, finished)

    assert [r.run_id for r in store.open_runs()] == ["r1"]
    succeed(store, running)
    assert store.open_runs() == []


def test_run_items_never_carry_a_ttl(store: ResultsStore, client: Any, table: str) -> None:
    record = run("r1")
    store.create_run(record)
    store.put_candidate(record, candidate("r1", 0, expires_at=1_900_000_000))
    succeed(store, record)
    store.update_run(record, report_key="r.html")
    items = client.scan(TableName=table)["Items"]
    with_ttl = {from_item(item)["item_type"] for item in items if TTL_ATTRIBUTE in item}
    assert with_ttl == {"candidate"}
    with pytest.raises(InputError):
        store.update_run(record, expires_at=1)


def test_guard_key_prefers_the_version_and_falls_back_to_the_etag() -> None:
    assert guard_key("bkt", "models/m.tar.gz", "v123", '"abc"') == (
        "ARTIFACT#bkt/models/m.tar.gz",
        "VERSION#v123",
    )
    assert guard_key("bkt", "models/m.tar.gz", None, '"abc-2"')[1] == "VERSION#abc-2"
    assert guard_key("bkt", "models/m.tar.gz", "null", "abc-2")[1] == "VERSION#abc-2"
    with pytest.raises(InputError, match="neither a version id nor an ETag"):
        guard_key("bkt", "models/m.tar.gz", None, None)


def test_the_guard_item_stops_a_redelivered_event(client: Any, table: str) -> None:
    pk, sk = guard_key("bkt", "models/m.tar.gz", "v1", None)
    item = {"PK": {"S": pk}, "SK": {"S": sk}}
    client.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(PK)")
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(PK)")
    # A new version of the same key is a new evaluation.
    pk2, sk2 = guard_key("bkt", "models/m.tar.gz", "v2", None)
    client.put_item(
        TableName=table,
        Item={"PK": {"S": pk2}, "SK": {"S": sk2}},
        ConditionExpression="attribute_not_exists(PK)",
    )


# --- the path the Recommend handler takes -----------------------------------------------------


def test_a_stored_recommendation_feeds_regression_detection(store: ResultsStore) -> None:
    from infercost.domain.recommend import recommend
    from infercost.domain.regression import detect_regressions
    from infercost.domain.results import ResultsFile
    from tests.unit.price_table import TablePrices

    prices = TablePrices(hourly={"ml.c5.large": 0.119, "ml.eia2.medium": 0.168, "ml.g5.xlarge": 1.408})

    def measured(eia_p90_ms: float) -> Recommendation:
        results = ResultsFile.model_validate(
            {
                "schema": "infercost.results/v1",
                "model": MODEL,
                "slo": {"percentile": "p90", "max_latency_ms": 80},
                "results": [
                    {
                        "candidate": {"instance_type": "ml.c5.large", "accelerator_type": "ml.eia2.medium"},
                        "latency_ms": {"avg": 47.85, "p90": eia_p90_ms},
                    },
                    {
                        "candidate": {"instance_type": "ml.g5.xlarge"},
                        "latency_ms": {"avg": 12.0, "p90": 14.0},
                    },
                ],
            }
        )
        return recommend(results, prices)

    first = run("first", 0)
    store.create_run(first)
    store.finish_run(first, status="SUCCEEDED", finished_at=at(5), recommendation=measured(51.74))

    second = run("second", 60)
    store.create_run(second)
    current = measured(61.2)
    previous = store.previous_successful_run(MODEL, second, current.slo)
    assert previous is not None and previous.run_id == "first"
    regressions = detect_regressions(current, previous.parsed_recommendation())
    assert [r.kind for r in regressions] == ["latency_increase"]
    assert store.finish_run(
        second, status="SUCCEEDED", finished_at=at(65), recommendation=current, regressions=regressions
    )
    stored = store.get_run("second")
    assert stored is not None and stored.run.regressions is not None
    assert stored.run.regressions[0]["message"] == regressions[0].message
    assert stored.run.parsed_recommendation() == current
