"""The call recorder of the local stack: every AWS call attributed to the function making it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from moto import mock_aws

from infercost.data import clients as aws
from infercost.data.notifications import presign_report, report_s3_client
from infercost.local.calls import OUTSIDE, CallRecorder, PerFunction


@pytest.fixture
def recorder() -> Iterator[CallRecorder]:
    with mock_aws():
        aws.clear_clients()
        recorder = CallRecorder()
        recorder.install()
        yield recorder
        recorder.uninstall()
        aws.clear_clients()


def test_calls_are_recorded_for_the_running_function_and_outside_any(recorder: CallRecorder) -> None:
    dynamodb = aws.client("dynamodb")
    with recorder.running("PrepareFunction"):
        dynamodb.list_tables()
        with recorder.running("JanitorFunction"):
            aws.client("sagemaker").list_endpoints()
    dynamodb.describe_limits()

    assert recorder.calls() == {
        "PrepareFunction": {"dynamodb:ListTables"},
        "JanitorFunction": {"sagemaker:ListEndpoints"},
        OUTSIDE: {"dynamodb:DescribeLimits"},
    }


def test_a_client_cached_before_install_is_recorded_and_none_after_uninstall() -> None:
    with mock_aws():
        aws.clear_clients()
        cached = aws.client("dynamodb")
        recorder = CallRecorder()
        recorder.install()
        recorder.install()  # idempotent: one hook, one record
        with recorder.running("ReportFunction"):
            cached.list_tables()
        recorder.uninstall()
        with recorder.running("ReportFunction"):
            cached.describe_limits()
        aws.clear_clients()

    assert recorder.calls() == {"ReportFunction": {"dynamodb:ListTables"}}


def test_a_presigned_report_link_counts_as_the_get_it_allows(recorder: CallRecorder) -> None:
    with recorder.running("NotifyFunction"):
        presign_report(report_s3_client("us-east-1"), "bucket", "reports/r.html", expires_s=60)

    assert recorder.calls() == {"NotifyFunction": {"s3:GetObject"}}


def test_a_per_process_cache_keeps_one_part_per_function(recorder: CallRecorder) -> None:
    cache = PerFunction()
    with recorder.running("PrepareFunction"):
        cache["prices"] = 1
        assert cache["prices"] == 1 and len(cache) == 1
    with recorder.running("RecommendFunction"):
        # Another function's answer does not spare this one its own call.
        assert "prices" not in cache and list(cache) == []
        cache["prices"] = 2
        del cache["prices"]
    seen: list[bool] = []
    thread = threading.Thread(target=lambda: seen.append("prices" in cache))
    thread.start()
    thread.join()
    cache.clear()
    with recorder.running("PrepareFunction"):
        assert "prices" not in cache
    assert seen == [False]
