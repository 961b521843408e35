"""Live prices by default on AWS, the snapshot for the demo, and a run that says when it fell back.

The Price List API is a botocore Stubber on a real `pricing` client (guarded as the handlers' are):
an error other than AccessDenied makes the price book use the snapshot, and the run's
recommendation, report and notifications say so; AccessDenied still fails Prepare, naming the
missing grant.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from rich.console import Console

from infercost.cli import main
from infercost.data.clients import PermissionDenied
from infercost.data.environment import env_name
from infercost.data.pricing import live
from infercost.data.pricing.book import PriceBook, PriceWarning
from infercost.data.pricing.snapshot import load_snapshot
from infercost.domain.records import CandidateRecord
from infercost.handlers import _shared
from infercost.local.stack import EmbeddedStack
from infercost.report.console import print_recommendation, render_markdown
from infercost.report.html import render_run_report
from infercost.report.inputs import ReportInput
from infercost.report.messages import build_slack_payload, build_sns_message
from infercost.steps import common, recommend

from .test_handlers_steps import aws as steps_aws
from .test_handlers_steps import good_spec, prepare

# Prepare's AWS on moto, as the step tests have it (artifacts bucket, stubbed Service Quotas).
aws = steps_aws

THROTTLED = "GetProducts failed: ThrottlingException: Rate exceeded"
NOTE = f"prices from the snapshot of {load_snapshot().as_of}: the Price List API did not answer ({THROTTLED})"


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    live.clear_cache()
    yield
    live.clear_cache()


def failing_client(code: str, message: str) -> tuple[Any, Stubber]:
    """A guarded `pricing` client whose GetProducts answers `code` (throttled to the end, ...)."""
    client = live.pricing_client()
    stub = Stubber(client)
    stub.add_client_error(
        "get_products", service_error_code=code, service_message=message, http_status_code=400
    )
    stub.activate()
    return client, stub


def fell_back_run(aws: dict[str, Any]) -> Any:
    """Prepare with the API throttled, then the Map's results, then Recommend: the run's view."""
    client, stub = failing_client("ThrottlingException", "Rate exceeded")
    with pytest.warns(PriceWarning, match="did not answer"):
        evaluation = prepare(
            aws,
            good_spec(slo={"percentile": "p90", "max_latency_ms": 80}),
            prices=lambda: PriceBook.load("us-east-1", live=True, pricing_client=client),
        )
    stub.deactivate()
    assert evaluation.accepted, evaluation.error
    for plan in evaluation.candidates:
        # The snapshot priced each candidate, with the basis of its entry.
        assert (plan.price_source, plan.price_basis) in (
            ("snapshot", "corroborated"),
            ("snapshot", "published"),
        )
        aws["store"].put_candidate(
            common.run_key(evaluation.run),
            CandidateRecord(
                run_id=evaluation.run.run_id,
                index=plan.index,
                candidate=plan.candidate,
                status="COMPLETED",
                result={
                    "candidate": plan.candidate.model_dump(mode="json"),
                    "price_per_hour_usd": plan.price_per_hour_usd,
                    "price_source": plan.price_source,
                    "price_basis": plan.price_basis,
                    "latency_ms": {"avg": 20.0, "p90": 24.0},
                    "invocations": 100,
                    "source": "cloudwatch",
                },
            ),
        )
    # Recommend runs in another Lambda: its own book may well reach the API; the note is the run's.
    recommend.recommend_run(evaluation.run, store=aws["store"], prices=lambda: PriceBook.load("us-east-1"))
    return aws["store"].get_run_by_key(common.run_key(evaluation.run))


def test_a_run_that_fell_back_to_the_snapshot_says_so_everywhere(aws: dict[str, Any]) -> None:
    view = fell_back_run(aws)
    assert view.run.price_note == NOTE
    recommendation = view.run.parsed_recommendation()
    assert recommendation is not None and recommendation.price_note == NOTE
    assert recommendation.prices_as_of == load_snapshot().as_of

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.parts: list[str] = []

        def handle_data(self, data: str) -> None:
            self.parts.append(data)

    page = Text()
    page.feed(render_run_report(view))
    assert f"Note: {NOTE}" in " ".join(" ".join(page.parts).split())

    report = ReportInput.from_run(view)
    assert f"Note: {NOTE}." in build_sns_message(report).body
    assert f"Note: {NOTE}." in json.dumps(build_slack_payload(report), ensure_ascii=False)

    terminal = StringIO()
    print_recommendation(recommendation, Console(file=terminal, width=400, color_system=None))
    assert f"note: {NOTE}" in terminal.getvalue()
    assert f"> Note: {NOTE}" in render_markdown(recommendation)


def test_a_run_priced_live_carries_no_note(aws: dict[str, Any]) -> None:
    evaluation = prepare(aws, good_spec())
    view = aws["store"].get_run_by_key(common.run_key(evaluation.run))
    assert view.run.price_note is None
    body = build_sns_message(ReportInput.from_run(view)).body
    assert "did not answer" not in body


def test_a_missing_grant_still_fails_prepare_naming_the_action(aws: dict[str, Any]) -> None:
    client, stub = failing_client("AccessDeniedException", "not authorized to perform: pricing:GetProducts")
    with pytest.raises(PermissionDenied, match="pricing:GetProducts"):
        prepare(
            aws, good_spec(), prices=lambda: PriceBook.load("us-east-1", live=True, pricing_client=client)
        )
    stub.deactivate()


def test_the_deployed_functions_ask_the_price_list_and_the_demo_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(env_name("table_name"), "results")
    monkeypatch.delenv(env_name("price_list"), raising=False)
    _shared.reset_settings()
    try:
        book = _shared.price_book()
        assert book.live and book._client is not None
        monkeypatch.setenv(env_name("price_list"), "snapshot")
        _shared.reset_settings()
        offline = _shared.price_book()
        assert not offline.live and offline._client is None
        # Nothing asks the API: the snapshot prices (no client exists to call).
        assert offline.instance_price("ml.c5.large").source == "snapshot"
    finally:
        _shared.reset_settings()
    # The local stack mirrors the deployed one; the demo opts into the snapshot.
    assert EmbeddedStack().function_env()[env_name("price_list")] == "live"
    assert EmbeddedStack(prices="snapshot").function_env()[env_name("price_list")] == "snapshot"


def test_a_bad_price_list_setting_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from infercost.data.environment import ConfigError
    from infercost.data.settings import Settings

    monkeypatch.setenv(env_name("price_list"), "cached")
    with pytest.raises(ConfigError) as caught:
        Settings.load()
    assert caught.value.field == "INFERCOST_PRICE_LIST" and "live" in caught.value.message


def test_recommend_with_live_prices_says_when_it_used_the_snapshot(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, stub = failing_client("ThrottlingException", "Rate exceeded")
    monkeypatch.setattr(live, "pricing_client", lambda *args, **kwargs: client)
    results = {
        "schema": "infercost.results/v1",
        "model": "m",
        "region": "us-east-1",
        "slo": {"percentile": "p90", "max_latency_ms": 80},
        "results": [{"candidate": {"instance_type": "ml.c5.large"}, "latency_ms": {"avg": 20, "p90": 24}}],
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    with pytest.warns(PriceWarning), pytest.raises(SystemExit) as done:
        main(["recommend", str(path), "--live-prices", "--format", "json"])
    stub.deactivate()
    assert done.value.code == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["price_note"] == NOTE
    assert answer["ranked"][0]["price_source"] == "snapshot"
