"""Traffic from an endpoint's history on the local stack: `infercost traffic import` and the workflow.

A production endpoint's hourly `Invocations` are put into the stack's CloudWatch as SageMaker
reports them; the CLI reads them into a curve, and a run whose spec names the endpoint reads them
in Prepare and projects its monthly cost onto them. A run whose endpoint has no history still
succeeds, without a monthly projection, and says why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infercost.cli import main
from infercost.local.stack import EmbeddedStack
from tests.integration.workflow_support import QUICK_LOAD, assert_nothing_left, describe, run_of, spec

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

PRODUCTION = "search-ranker-prod"
C5 = {"instance_type": "ml.c5.large"}


def put_invocations(stack: EmbeddedStack, endpoint: str, days: int) -> None:
    """`days` of a weekday/weekend, day/night pattern: 6 req/s by day, 1 at night, half at weekends."""
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    data = []
    for offset in range(1, days * 24 + 1):
        hour = end - timedelta(hours=offset)
        rate = (6.0 if 8 <= hour.hour < 20 else 1.0) * (0.5 if hour.weekday() >= 5 else 1.0)
        data.append(
            {
                "MetricName": "Invocations",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": endpoint},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
                "Timestamp": hour + timedelta(minutes=30),
                "Value": rate * 3600,
                "Unit": "None",
            }
        )
    cloudwatch = stack.client("cloudwatch")
    for start in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data[start : start + 1000])


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack(quotas={"ml.c5.large": 2}) as local:
        put_invocations(local, PRODUCTION, days=10)
        yield local
        assert_nothing_left(local)
    assert local.leaked_servers == []


def test_the_cli_reads_the_endpoints_history(
    stack: EmbeddedStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "traffic.json"
    with pytest.raises(SystemExit) as stop:
        main(["traffic", "import", "--endpoint", PRODUCTION, "--days", "10", "--out", str(out)])
    printed, errors = capsys.readouterr()
    assert stop.value.code == 0, errors

    curve = json.loads(out.read_text())["traffic"]["hourly_rps"]
    assert len(curve) == 168
    assert curve[8] == 6.0 and curve[7] == 1.0 and curve[5 * 24 + 8] == 3.0  # Mon 08, Mon 07, Sat 08
    assert "busiest hour Mon 08:00 UTC (6.00 req/s)" in printed
    assert f"endpoint {PRODUCTION} (AllTraffic), 10 days" in printed


def test_a_run_projects_onto_the_endpoints_traffic(stack: EmbeddedStack) -> None:
    body = spec("from-history", [C5], load=QUICK_LOAD, traffic={"endpoint": PRODUCTION, "days": 10})

    (execution,) = stack.evaluate("models/from-history/model.tar.gz", spec=body)

    assert execution["status"] == "SUCCEEDED", describe(execution)
    run = run_of(stack, "from-history").run
    assert run.traffic_note is None
    assert run.traffic is not None and len(run.traffic["hourly_rps"]) == 168
    recommendation: dict[str, Any] = run.recommendation or {}
    assert recommendation["traffic"]["source"].startswith(f"CloudWatch Invocations of endpoint {PRODUCTION}")
    assert recommendation["ranked"][0]["monthly"] is not None


def test_a_run_whose_endpoint_has_no_history_goes_on_without_traffic(stack: EmbeddedStack) -> None:
    body = spec("no-history", [C5], load=QUICK_LOAD, traffic={"endpoint": "never-invoked"})

    (execution,) = stack.evaluate("models/no-history/model.tar.gz", spec=body)

    assert execution["status"] == "SUCCEEDED", describe(execution)
    run = run_of(stack, "no-history").run
    assert run.traffic is None
    assert (
        run.traffic_note is not None and "traffic.endpoint: CloudWatch has no Invocations" in run.traffic_note
    )
    recommendation: dict[str, Any] = run.recommendation or {}
    assert recommendation["traffic"] is None
    assert run.traffic_note in recommendation["warnings"]
