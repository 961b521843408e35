"""SageMaker Savings Plans rates: the snapshot's discounts, the live API, the break-even, the CLI.

moto implements no `savingsplans` service, so the live path runs against botocore's Stubber, which
validates every request against the service model (DescribeSavingsPlansOfferingRates: filter
names region/instanceType/..., maxResults 0-1,000, no paginator, so nextToken by hand).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from hypothesis import given
from hypothesis import strategies as st

from infercost.cli import main
from infercost.data.clients import PermissionDenied, guard
from infercost.data.pricing import savings_plans
from infercost.data.pricing.book import PriceBook
from infercost.data.pricing.snapshot import SnapshotError, load_snapshot, parse_snapshot
from infercost.domain.models import Candidate
from infercost.domain.savings_plans import break_even_utilisation, discount_percent, plan_label

G5 = Candidate(instance_type="ml.g5.xlarge")
G5_LIST_USD = 1.4084  # the snapshot's us-east-1 price (aws-fmbench, published)
YEAR_S = 31_536_000


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    savings_plans.clear_cache()
    yield
    savings_plans.clear_cache()


def offering(years: int, payment: str, rate: str, usage: str = "USE1-Host:ml.g5.xlarge") -> dict[str, Any]:
    """One search result as the API returns it."""
    return {
        "savingsPlanOffering": {
            "offeringId": f"{years}-{payment}".replace(" ", "-").lower(),
            "paymentOption": payment,
            "planType": "SageMaker",
            "durationSeconds": years * YEAR_S,
            "currency": "USD",
            "planDescription": f"{years} year {payment} SageMaker Savings Plan",
        },
        "rate": rate,
        "unit": "Hrs",
        "productType": "SageMaker",
        "serviceCode": "AmazonSageMaker",
        "usageType": usage,
        "operation": "RunInstance",
        "properties": [
            {"name": "region", "value": "us-east-1"},
            {"name": "instanceType", "value": usage.split(":")[-1]},
        ],
    }


def stubbed() -> tuple[Any, Stubber]:
    client = guard(boto3.client("savingsplans", region_name="us-east-1"))
    return client, Stubber(client)


def expected_request(next_token: str | None = None) -> dict[str, Any]:
    return savings_plans.request("us-east-1", "ml.g5.xlarge", next_token)


# --- the snapshot ------------------------------------------------------------------------------


def test_every_bundled_family_has_the_published_ceiling_as_a_derived_bound() -> None:
    snapshot = load_snapshot()
    families = {name.split(".")[1] for prices in snapshot.regions.values() for name in prices.instances}
    assert families <= set(snapshot.savings_plans)
    for family, plans in snapshot.savings_plans.items():
        assert [(p.term_years, p.payment) for p in plans] == [(3, "all-upfront")], family
        for plan in plans:
            assert plan.discount_percent == 64
            assert plan.basis == "derived" and plan.method == "published-ceiling"
            assert plan.source in snapshot.sources and plan.as_of == "2021-04-29"


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    from importlib import resources

    text = resources.files("infercost.data.pricing").joinpath("snapshot.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda plans: plans.update({"2y-all-upfront": plans.pop("3y-all-upfront")}), "a plan is named like"),
        (lambda plans: plans["3y-all-upfront"].update(discount_percent=100), "from 0 to below 100"),
        (lambda plans: plans["3y-all-upfront"].update(discount_percent=-1), "from 0 to below 100"),
        (lambda plans: plans["3y-all-upfront"].update(source="nowhere"), "is not a listed source"),
        (lambda plans: plans["3y-all-upfront"].pop("method"), "must name one of the listed methods"),
        (lambda plans: plans["3y-all-upfront"].update(method="guess"), "one of the listed methods"),
    ],
)
def test_a_malformed_savings_plans_entry_is_refused(raw: dict[str, Any], change: Any, message: str) -> None:
    data = copy.deepcopy(raw)
    change(data["savings_plans"]["families"]["g5"])
    with pytest.raises(SnapshotError, match=message):
        parse_snapshot(data)


# --- the price book ----------------------------------------------------------------------------


def test_snapshot_rates_are_the_list_price_less_the_discount_as_weak_as_either() -> None:
    (rate,) = PriceBook.load("us-east-1").savings_plan_rates(G5)
    assert (rate.term_years, rate.payment) == (3, "all-upfront")
    assert rate.usd_per_hour == pytest.approx(G5_LIST_USD * 0.36)
    # The on-demand price is published, the discount derived: the rate is derived (an estimate).
    assert rate.basis == "derived" and rate.source == "snapshot" and rate.as_of == "2021-04-29"


def test_a_discount_in_the_overrides_does_not_stack_with_a_plan() -> None:
    book = PriceBook.load("us-east-1", overrides={"discount_percent": 20})
    (rate,) = book.savings_plan_rates(G5)
    assert rate.usd_per_hour == pytest.approx(G5_LIST_USD * 0.36)


@pytest.mark.parametrize(
    ("candidate", "overrides"),
    [
        (Candidate(serverless={"memory_mb": 2048}), None),
        (Candidate(instance_type="ml.c5.large", accelerator_type="ml.eia2.medium"), None),
        (G5, {"instances": {"ml.g5.xlarge": 1.0}}),
    ],
    ids=["serverless", "accelerator", "your own price"],
)
def test_no_plan_rates_where_a_plan_does_not_apply(candidate: Candidate, overrides: Any) -> None:
    assert PriceBook.load("us-east-1", overrides=overrides).savings_plan_rates(candidate) == ()


def test_live_rates_come_from_the_savings_plans_api() -> None:
    client, stub = stubbed()
    stub.add_response(
        "describe_savings_plans_offering_rates",
        {
            "searchResults": [
                offering(1, "No Upfront", "1.0420"),
                # Training of the same instance type bills another usage type: left out.
                offering(1, "No Upfront", "0.9", usage="USE1-Train:ml.g5.xlarge"),
            ],
            "nextToken": "page2",
        },
        expected_request(),
    )
    stub.add_response(
        "describe_savings_plans_offering_rates",
        {"searchResults": [offering(3, "All Upfront", "0.6197"), offering(1, "Partial Upfront", "0.99")]},
        expected_request("page2"),
    )
    book = PriceBook("us-east-1", live=True, pricing_client=object(), savings_plans_client=client)
    book._live_failed = True  # on-demand prices from the snapshot: only the plans are under test

    with stub:
        rates = book.savings_plan_rates(G5)
        again = book.savings_plan_rates(G5)

    assert [(r.term_years, r.payment, r.usd_per_hour) for r in rates] == [
        (1, "no-upfront", 1.042),
        (1, "partial-upfront", 0.99),
        (3, "all-upfront", 0.6197),
    ]
    assert {r.basis for r in rates} == {"live"} and {r.source for r in rates} == {"live"}
    assert again == rates  # answered from the cache: the stub would refuse a third call
    assert book.savings_plans_note is None


def test_the_request_respects_the_api_model() -> None:
    params = savings_plans.request("eu-west-1", "ml.inf2.xlarge")
    assert 0 < params["maxResults"] <= 1000
    assert {f["name"] for f in params["filters"]} <= {
        "region",
        "instanceFamily",
        "instanceType",
        "productDescription",
        "tenancy",
        "productId",
    }
    client = boto3.client("savingsplans", region_name="us-east-1")
    assert not client.can_paginate("describe_savings_plans_offering_rates")
    assert client.meta.endpoint_url == "https://savingsplans.amazonaws.com"  # a global API


def test_an_api_that_does_not_answer_falls_back_to_the_snapshot_with_a_note() -> None:
    client, stub = stubbed()
    stub.add_client_error(
        "describe_savings_plans_offering_rates",
        service_error_code="ThrottlingException",
        service_message="Rate exceeded",
    )
    book = PriceBook("us-east-1", live=True, pricing_client=object(), savings_plans_client=client)
    book._live_failed = True

    with stub, pytest.warns(UserWarning, match="Savings Plans API did not answer"):
        (rate,) = book.savings_plan_rates(G5)

    assert rate.source == "snapshot" and rate.basis == "derived"
    assert book.savings_plans_note == (
        "Savings Plans rates from the snapshot's discounts: the Savings Plans API did not answer "
        "(DescribeSavingsPlansOfferingRates failed: ThrottlingException: Rate exceeded)"
    )


def test_a_type_the_api_has_no_rates_for_keeps_the_snapshot_discount() -> None:
    client, stub = stubbed()
    stub.add_response("describe_savings_plans_offering_rates", {"searchResults": []}, ANY_REQUEST)
    book = PriceBook("us-east-1", live=True, pricing_client=object(), savings_plans_client=client)
    book._live_failed = True
    with stub, pytest.warns(UserWarning, match="has no us-east-1 rates for ml.g5.xlarge"):
        (rate,) = book.savings_plan_rates(G5)
    assert rate.source == "snapshot"


def test_a_refused_grant_is_not_hidden_behind_the_snapshot() -> None:
    client, stub = stubbed()
    stub.add_client_error(
        "describe_savings_plans_offering_rates",
        service_error_code="AccessDeniedException",
        http_status_code=403,
    )
    book = PriceBook("us-east-1", live=True, pricing_client=object(), savings_plans_client=client)
    book._live_failed = True
    with stub, pytest.raises(PermissionDenied) as caught:
        book.savings_plan_rates(G5)
    assert caught.value.field == "savingsplans:DescribeSavingsPlansOfferingRates"


def test_an_offering_infercost_does_not_know_is_refused() -> None:
    odd = offering(1, "No Upfront", "1.0")
    odd["savingsPlanOffering"]["durationSeconds"] = 2 * YEAR_S
    with pytest.raises(savings_plans.SavingsPlansError, match="does not know"):
        savings_plans.parse_result(odd, "ml.g5.xlarge")


ANY_REQUEST = {
    "savingsPlanTypes": ANY,
    "products": ANY,
    "serviceCodes": ANY,
    "filters": ANY,
    "maxResults": ANY,
}


# --- break-even --------------------------------------------------------------------------------


def test_break_even_is_the_plan_rate_over_the_on_demand_rate() -> None:
    assert break_even_utilisation(0.36, 1.0) == pytest.approx(0.36)
    assert discount_percent(0.36, 1.0) == pytest.approx(64)


@given(
    on_demand=st.floats(min_value=0.01, max_value=200),
    share=st.floats(min_value=0.01, max_value=1),
    used=st.floats(min_value=0, max_value=1),
)
def test_above_the_break_even_the_plan_is_cheaper(on_demand: float, share: float, used: float) -> None:
    plan = on_demand * share
    cost_on_demand, cost_plan = used * on_demand, plan
    if used > break_even_utilisation(plan, on_demand) + 1e-9:
        assert cost_plan < cost_on_demand
    elif used < break_even_utilisation(plan, on_demand) - 1e-9:
        assert cost_plan > cost_on_demand


@pytest.mark.parametrize(("plan", "on_demand"), [(1.1, 1.0), (0, 1.0), (0.5, 0)])
def test_a_plan_rate_above_on_demand_or_not_positive_is_refused(plan: float, on_demand: float) -> None:
    with pytest.raises(ValueError):
        break_even_utilisation(plan, on_demand)


def test_plan_labels() -> None:
    (rate,) = PriceBook.load("us-east-1").savings_plan_rates(G5)
    assert plan_label(rate) == "3-year all upfront"


# --- infercost prices --------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    return code, capsys.readouterr().out


def test_prices_shows_plan_rates_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    code, plain = run(capsys, "prices", "--family", "g5")
    assert code == 0 and "Savings Plans" not in plain

    code, out = run(capsys, "prices", "--family", "g5", "--savings-plans")
    assert code == 0
    assert "SageMaker Savings Plans in us-east-1" in out
    assert "│ ml.g5.xlarge   │ 3-year all upfront │  ≈ $0.51 │   $1.4084 │ ≤ 64% │ ≥ 36% of hours │" in out
    assert "upper bound" in out


def test_prices_json_carries_the_plans_with_their_break_even(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "prices", "--family", "inf2", "--savings-plans", "--format", "json")
    assert code == 0
    plans = json.loads(out)["savings_plans"]
    assert {plan["name"] for plan in plans} == {
        row["name"] for row in json.loads(out)["prices"] if row["kind"] == "instance"
    }
    for plan in plans:
        assert plan["usd_per_hour"] == pytest.approx(plan["on_demand_usd_per_hour"] * 0.36)
        assert plan["break_even_utilisation"] == pytest.approx(0.36)
        assert plan["basis"] == "derived"
