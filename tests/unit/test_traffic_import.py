"""`infercost traffic import` and Prepare's `traffic.endpoint`: an endpoint's history as the run's traffic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from infercost.cli import main
from infercost.data.pricing.book import PriceBook
from infercost.data.store import ResultsStore
from infercost.domain.models import EvaluationSpec
from infercost.domain.traffic import TrafficProfile
from infercost.local import cloudwatch as local_cloudwatch
from infercost.report.traffic import hour_label, sparkline, summary_lines
from infercost.steps import prepare as prepare_step
from infercost.steps.common import run_key, run_traffic, stored_spec
from tests.conftest import aws_client
from tests.unit.test_handlers_steps import BUCKET, event, good_spec, settings

ENDPOINT = "search-ranker"


@pytest.fixture
def aws(results_store: ResultsStore) -> Iterator[dict[str, Any]]:
    """What Prepare reads and writes, on moto; Service Quotas stubbed (moto has no SageMaker quotas)."""
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    quotas = aws_client("service-quotas")
    with Stubber(quotas) as stub:
        yield {
            "s3": s3,
            "sagemaker": aws_client("sagemaker"),
            "servicequotas": quotas,
            "quota_stub": stub,
            "store": results_store,
        }


@pytest.fixture
def cloudwatch(moto_aws: None) -> Iterator[Any]:
    local_cloudwatch.install()
    yield boto3.client("cloudwatch", region_name="us-east-1")


def this_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def put_week(cloudwatch: Any, *, days: int = 8) -> None:
    """`days` of traffic: 4 req/s by day (08:00-19:59 UTC), 1 req/s at night, half at weekends."""
    data = []
    for offset in range(1, days * 24 + 1):
        hour = this_hour() - timedelta(hours=offset)
        rate = (4.0 if 8 <= hour.hour < 20 else 1.0) * (0.5 if hour.weekday() >= 5 else 1.0)
        data.append(
            {
                "MetricName": "Invocations",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": ENDPOINT},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
                "Timestamp": hour + timedelta(minutes=30),
                "Value": rate * 3600,
            }
        )
    cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- the command ---------------------------------------------------------------------------------


def test_import_writes_a_spec_fragment_and_prints_a_summary(
    cloudwatch: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    put_week(cloudwatch)
    out = tmp_path / "traffic.json"

    code, stdout, stderr = run(
        capsys, "traffic", "import", "--endpoint", ENDPOINT, "--days", "8", "--out", str(out)
    )

    assert code == 0, stderr
    written = json.loads(out.read_text())
    assert set(written) == {"traffic"}
    assert set(written["traffic"]) == {"hourly_rps", "source"}
    assert len(written["traffic"]["hourly_rps"]) == 168
    # The fragment is a valid spec's traffic as it stands.
    spec = EvaluationSpec.model_validate({**good_spec(), **written})
    assert isinstance(spec.traffic, TrafficProfile) and spec.traffic.peak_rps == 4.0
    assert "requests/month, peak 4.00 req/s" in stdout
    assert "busiest hour Mon 08:00 UTC (4.00 req/s), quietest Sat 00:00 UTC (0.50 req/s)" in stdout
    assert "by day (Mon–Sun)" in stdout and f"wrote {out}" in stdout


def test_without_out_the_json_goes_to_stdout_and_the_summary_to_stderr(
    cloudwatch: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    put_week(cloudwatch, days=2)

    code, stdout, stderr = run(capsys, "traffic", "import", "--endpoint", ENDPOINT, "--days", "2")

    assert code == 0
    assert len(json.loads(stdout)["traffic"]["hourly_rps"]) == 24
    assert "by hour of day" in stderr and "by day" not in stderr


def test_an_endpoint_without_history_is_one_line_naming_the_option(
    cloudwatch: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, stderr = run(capsys, "traffic", "import", "--endpoint", "nothing-here")
    assert code == 2 and stdout == ""
    assert stderr.startswith("error: --endpoint: CloudWatch has no Invocations of endpoint 'nothing-here'")
    assert stderr.count("\n") == 1


@pytest.mark.parametrize("days", ["0", "456"])
def test_days_outside_the_retention_are_one_line(
    cloudwatch: Any, capsys: pytest.CaptureFixture[str], days: str
) -> None:
    code, _, stderr = run(capsys, "traffic", "import", "--endpoint", ENDPOINT, "--days", days)
    assert code == 2 and stderr.startswith("error: --days: must be a whole number of days from 1 to 455")


def test_help_lists_the_traffic_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "traffic", "--help")
    assert code == 0 and "import" in out


# --- the summary -------------------------------------------------------------------------------


def test_sparkline_scales_from_zero_to_the_highest_value() -> None:
    assert sparkline([0, 1, 2, 4]) == "▁▃▅█"
    assert sparkline([0, 0]) == "▁▁"


def test_hour_labels_name_the_day_of_a_week_curve() -> None:
    assert hour_label(14, 24) == "14:00 UTC"
    assert hour_label(24 + 14, 168) == "Tue 14:00 UTC"


def test_a_profile_without_a_curve_has_volume_and_peak_only() -> None:
    lines = summary_lines(TrafficProfile(requests_per_month=1_000_000, peak_rps=2.5))
    assert lines == ["1,000,000 requests/month, peak 2.50 req/s"]


# --- Prepare -----------------------------------------------------------------------------------


def prepare_with_traffic(aws: dict[str, Any], cloudwatch: Any, traffic: dict[str, Any]) -> Any:
    aws["s3"].put_object(
        Bucket=BUCKET,
        Key="models/densenet121/infercost.json",
        Body=json.dumps(good_spec(traffic=traffic)),
    )
    aws["quota_stub"].add_response("list_service_quotas", {"Quotas": []})
    evaluation = prepare_step.prepare(
        event(),
        settings=settings(),
        s3=aws["s3"],
        sagemaker=aws["sagemaker"],
        servicequotas=aws["servicequotas"],
        store=aws["store"],
        prices=lambda: PriceBook.load("us-east-1"),
        cloudwatch=cloudwatch,
    )
    assert evaluation.accepted, evaluation.error
    return aws["store"].get_run_by_key(run_key(evaluation.run))


def test_prepare_stores_the_profile_read_from_the_endpoint(aws: dict[str, Any], cloudwatch: Any) -> None:
    put_week(cloudwatch)

    view = prepare_with_traffic(aws, cloudwatch, {"endpoint": ENDPOINT, "days": 8, "request_kb": 3})

    assert view.run.traffic_note is None
    profile = run_traffic(view, stored_spec(view))
    assert profile is not None and profile.request_kb == 3
    assert profile.hourly_rps is not None and len(profile.hourly_rps) == 168
    assert profile.source is not None and f"endpoint {ENDPOINT} (AllTraffic), 8 days" in profile.source


def test_prepare_goes_on_without_traffic_when_the_history_is_empty(
    aws: dict[str, Any], cloudwatch: Any
) -> None:
    view = prepare_with_traffic(aws, cloudwatch, {"endpoint": "nothing-here"})

    assert view.run.traffic is None
    assert view.run.traffic_note.startswith(
        "no traffic profile: the history of endpoint nothing-here could not be read, so the run has "
        "no monthly projection (traffic.endpoint: CloudWatch has no Invocations"
    )


def test_prepare_goes_on_when_cloudwatch_refuses(aws: dict[str, Any]) -> None:
    client = boto3.client("cloudwatch", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error(
            "get_metric_statistics", service_error_code="Throttling", service_message="Rate exceeded"
        )
        view = prepare_with_traffic(aws, client, {"endpoint": ENDPOINT, "days": 3})

    assert view.run.traffic is None
    assert "GetMetricStatistics failed: Throttling: Rate exceeded" in view.run.traffic_note


def test_prepare_reads_nothing_when_the_spec_gives_the_traffic(aws: dict[str, Any]) -> None:
    client = boto3.client("cloudwatch", region_name="us-east-1")
    with Stubber(client):  # any call would fail: the stub expects none
        view = prepare_with_traffic(aws, client, {"requests_per_month": 1_000_000, "peak_rps": 5})
    assert view.run.traffic is None and view.run.traffic_note is None
