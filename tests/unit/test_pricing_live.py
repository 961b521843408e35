"""The live Price List path: botocore Stubber with GetProducts responses in the real shape.

The fixtures under tests/fixtures/pricing follow the documented GetProducts response: PriceList is a
list of JSON strings, each a product with attributes (regionCode, instanceName, component,
usagetype) and terms.OnDemand.<term>.priceDimensions.<dim>.pricePerUnit.USD in Hrs.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from infercost.data.clients import RETRIES, PermissionDenied
from infercost.data.pricing import live
from infercost.data.pricing.book import PriceBook, PriceWarning
from infercost.domain.models import Candidate

FIXTURES = Path(__file__).parent.parent / "fixtures" / "pricing"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def filters(region: str, name: str | None = None) -> list[dict[str, str]]:
    wanted = [
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
        {"Type": "TERM_MATCH", "Field": "component", "Value": "Hosting"},
    ]
    if name:
        wanted.append({"Type": "TERM_MATCH", "Field": "instanceName", "Value": name})
    return wanted


def expected(region: str, name: str | None = None, token: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "ServiceCode": "AmazonSageMaker",
        "Filters": filters(region, name),
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    if token:
        params["NextToken"] = token
    return params


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    live.clear_cache()
    yield
    live.clear_cache()


@pytest.fixture
def client() -> Any:
    return live.pricing_client()


def test_one_name_is_asked_for_with_region_component_and_name_filters(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_response(
            "get_products",
            fixture("get_products_ml_g5_xlarge.json"),
            expected("us-east-1", "ml.g5.xlarge"),
        )
        prices = live.hosting_prices(client, "us-east-1", instance_name="ml.g5.xlarge")
        stub.assert_no_pending_responses()
    assert prices["ml.g5.xlarge"].usd_per_hour == pytest.approx(1.4084)
    assert prices["ml.g5.xlarge"].as_of == "2026-09-20"
    assert prices["ml.g5.xlarge"].usage_type == "USE1-Host:ml.g5.xlarge"


def test_every_page_is_read_when_the_whole_region_is_listed(client: Any) -> None:
    first, second = fixture("get_products_eu_west_1_paged.json")["pages"]
    with Stubber(client) as stub:
        stub.add_response("get_products", first, expected("eu-west-1"))
        stub.add_response("get_products", second, expected("eu-west-1", token=first["NextToken"]))
        prices = live.hosting_prices(client, "eu-west-1")
        stub.assert_no_pending_responses()
    assert sorted(prices) == ["ml.c5.large", "ml.eia2.medium", "ml.g4dn.xlarge", "ml.m5.xlarge"]
    assert prices["ml.g4dn.xlarge"].usd_per_hour == pytest.approx(0.821)


def test_answers_are_cached_per_process(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_response(
            "get_products",
            fixture("get_products_ml_g5_xlarge.json"),
            expected("us-east-1", "ml.g5.xlarge"),
        )
        first = live.hosting_prices(client, "us-east-1", instance_name="ml.g5.xlarge")
        # No second response is queued: a second API call would fail the Stubber.
        second = live.hosting_prices(client, "us-east-1", instance_name="ml.g5.xlarge")
    assert first == second


def test_the_price_book_uses_the_live_price_over_the_snapshot(client: Any) -> None:
    body = fixture("get_products_ml_g5_xlarge.json")
    item = json.loads(body["PriceList"][0])
    term = next(iter(item["terms"]["OnDemand"].values()))
    next(iter(term["priceDimensions"].values()))["pricePerUnit"]["USD"] = "1.2000000000"
    body["PriceList"] = [json.dumps(item)]
    with Stubber(client) as stub:
        stub.add_response("get_products", body, expected("us-east-1", "ml.g5.xlarge"))
        book = PriceBook.load("us-east-1", live=True, pricing_client=client)
        price = book.instance_price("ml.g5.xlarge")
    assert (price.usd_per_hour, price.source, price.as_of) == (1.2, "live", "2026-09-20")
    assert book.warnings == []


def test_an_api_failure_falls_back_to_the_snapshot_with_a_warning_naming_it(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_client_error(
            "get_products",
            service_error_code="InvalidParameterException",
            service_message="the filter is not supported",
            http_status_code=400,
        )
        book = PriceBook.load("us-east-1", live=True, pricing_client=client)
        with pytest.warns(PriceWarning, match="InvalidParameterException"):
            price = book.candidate_price(Candidate(instance_type="ml.c5.large"))
        # After one failure the book stops asking: no response is queued for a second call.
        assert book.instance_price("ml.m5.large").source == "snapshot"
    assert (price.usd_per_hour, price.source) == (0.102, "snapshot")
    assert len(book.warnings) == 1
    assert "GetProducts failed" in book.warnings[0]
    assert book.snapshot_as_of in book.warnings[0]


def test_a_missing_grant_is_not_mistaken_for_an_unavailable_api(client: Any) -> None:
    # The snapshot would hide a role without pricing:GetProducts forever: the action is named.
    with Stubber(client) as stub:
        stub.add_client_error(
            "get_products",
            service_error_code="AccessDeniedException",
            service_message="User is not authorized to perform: pricing:GetProducts",
            http_status_code=400,
        )
        book = PriceBook.load("us-east-1", live=True, pricing_client=client)
        with pytest.raises(PermissionDenied, match="pricing:GetProducts"):
            book.candidate_price(Candidate(instance_type="ml.c5.large"))


def test_a_malformed_price_list_entry_is_a_failure_too(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_response(
            "get_products",
            {"FormatVersion": "aws_v1", "PriceList": ["{not json"]},
            expected("us-east-1", "ml.c5.large"),
        )
        book = PriceBook.load("us-east-1", live=True, pricing_client=client)
        with pytest.warns(PriceWarning, match="not a product"):
            assert book.instance_price("ml.c5.large").source == "snapshot"


def test_a_name_missing_from_the_price_list_uses_the_snapshot_and_says_so(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_response(
            "get_products",
            {"FormatVersion": "aws_v1", "PriceList": []},
            expected("us-east-1", "ml.eia2.medium"),
        )
        book = PriceBook.load("us-east-1", live=True, pricing_client=client)
        with pytest.warns(PriceWarning, match="no us-east-1 price for ml.eia2.medium; using the snapshot"):
            price = book.accelerator_price("ml.eia2.medium")
    assert (price.usd_per_hour, price.source) == (0.168, "snapshot")


def test_rows_ask_once_for_the_whole_region(client: Any) -> None:
    first, second = fixture("get_products_eu_west_1_paged.json")["pages"]
    with Stubber(client) as stub:
        stub.add_response("get_products", first, expected("eu-west-1"))
        stub.add_response("get_products", second, expected("eu-west-1", token=first["NextToken"]))
        book = PriceBook.load("eu-west-1", live=True, pricing_client=client)
        with pytest.warns(PriceWarning, match="using the snapshot for those"):
            rows = {row.name: row for row in book.rows()}
        stub.assert_no_pending_responses()
    assert rows["ml.m5.xlarge"].origin == "live"
    assert rows["ml.eia2.medium"].origin == "live"
    # Names the API did not list keep their snapshot price, and one warning counts them.
    assert rows["ml.g5.xlarge"].origin == "snapshot"
    unlisted = len(rows) - 4 - 2  # four live names, two serverless rows
    assert book.warnings == [
        "the Price List has no eu-west-1 price for ml.c5.18xlarge, ml.c5.2xlarge, ml.c5.4xlarge "
        f"and {unlisted - 3} more; using the snapshot for those"
    ]


class ThrottlingThenAnswer:
    """A transport behind botocore's retry logic: n throttling replies, then the real answer.

    The Stubber short-circuits botocore before its retry handler runs, so throttling retries are
    exercised at the HTTP layer instead (the `before-send` hook moto itself uses).
    """

    def __init__(self, throttles: int, answer: dict[str, Any]):
        self.throttles = throttles
        self.answer = answer
        self.calls = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        self.calls += 1
        if self.calls <= self.throttles:
            body = {"__type": "ThrottlingException", "message": "Rate exceeded"}
            return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(body))
        return AWSResponse(
            request.url, 200, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(self.answer)
        )


class _Raw:
    def __init__(self, body: dict[str, Any]):
        self._data = json.dumps(body).encode()

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


class _NoSleep:
    def __init__(self) -> None:
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_throttling_is_retried_by_botocore_with_backoff(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _NoSleep()
    monkeypatch.setattr(botocore.endpoint, "time", clock)
    transport = ThrottlingThenAnswer(2, fixture("get_products_ml_g5_xlarge.json"))
    client.meta.events.register("before-send.pricing.GetProducts", transport)
    prices = live.hosting_prices(client, "us-east-1", instance_name="ml.g5.xlarge")
    assert prices["ml.g5.xlarge"].usd_per_hour == pytest.approx(1.4084)
    assert transport.calls == 3
    assert len(clock.slept) == 2


def test_throttling_that_never_stops_ends_in_the_snapshot(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = _NoSleep()
    monkeypatch.setattr(botocore.endpoint, "time", clock)
    transport = ThrottlingThenAnswer(RETRIES["total_max_attempts"], fixture("get_products_ml_g5_xlarge.json"))
    client.meta.events.register("before-send.pricing.GetProducts", transport)
    book = PriceBook.load("us-east-1", live=True, pricing_client=client)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        price = book.instance_price("ml.g5.xlarge")
    assert price.source == "snapshot"
    assert transport.calls == RETRIES["total_max_attempts"]
    assert any("ThrottlingException" in str(w.message) for w in caught)


def test_the_client_is_made_in_a_region_that_serves_the_api() -> None:
    assert live.pricing_client("eu-central-1").meta.region_name == "eu-central-1"
    # There is no Price List endpoint in eu-west-1: the client goes to us-east-1 instead.
    assert live.pricing_client("eu-west-1").meta.region_name == "us-east-1"


def test_a_book_without_a_client_makes_one_when_it_first_needs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[Any] = []
    real_client = live.pricing_client

    def fake_client() -> Any:
        client = real_client()
        stub = Stubber(client)
        stub.add_response(
            "get_products",
            fixture("get_products_ml_g5_xlarge.json"),
            expected("us-east-1", "ml.g5.xlarge"),
        )
        stub.activate()
        made.append(client)
        return client

    monkeypatch.setattr(live, "pricing_client", fake_client)
    book = PriceBook.load("us-east-1", live=True)
    assert made == []
    assert book.instance_price("ml.g5.xlarge").source == "live"
    assert len(made) == 1


def entry(name: str, usd: str, *, unit: str = "Hrs", usage: str | None = None) -> str:
    dimension = {"unit": unit, "pricePerUnit": {"USD": usd}}
    return json.dumps(
        {
            "product": {"attributes": {"instanceName": name, "usagetype": usage}},
            "terms": {"OnDemand": {"T": {"priceDimensions": {"D": dimension}}}},
        }
    )


def test_only_hourly_usd_prices_of_ml_names_are_read() -> None:
    assert live.parse_price_item(entry("ml.c5.large", "0.1", unit="Quantity")) is None
    assert live.parse_price_item(entry("ml.c5.large", "0.0000000000")) is None
    assert live.parse_price_item(entry("c5.large", "0.085")) is None
    parsed = live.parse_price_item(entry("ml.c5.large", "0.1020000000"))
    assert parsed is not None and parsed.usd_per_hour == 0.102 and parsed.as_of is None
    with pytest.raises(live.LivePriceError, match="not a number"):
        live.parse_price_item(entry("ml.c5.large", "n/a"))
    with pytest.raises(live.LivePriceError, match="not a product"):
        live.parse_price_item(json.dumps({"terms": {}}))


def test_the_plain_hosting_usage_type_wins_over_other_skus(client: Any) -> None:
    answer = {
        "FormatVersion": "aws_v1",
        "PriceList": [
            entry("ml.g5.xlarge", "9.9", usage="USE1-Host-Other:ml.g5.xlarge"),
            entry("ml.g5.xlarge", "1.4084", usage="USE1-Host:ml.g5.xlarge"),
            entry("ml.g5.xlarge", "7.7", usage="USE1-Host-Other2:ml.g5.xlarge"),
        ],
    }
    with Stubber(client) as stub:
        stub.add_response("get_products", answer, expected("us-east-1", "ml.g5.xlarge"))
        prices = live.hosting_prices(client, "us-east-1", instance_name="ml.g5.xlarge")
    assert prices["ml.g5.xlarge"].usd_per_hour == pytest.approx(1.4084)


def test_a_connection_failure_is_retried_then_falls_back(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import EndpointConnectionError

    clock = _NoSleep()
    monkeypatch.setattr(botocore.endpoint, "time", clock)
    calls: list[int] = []

    def unreachable(request: Any, **_: Any) -> None:
        calls.append(1)
        raise EndpointConnectionError(endpoint_url=request.url)

    client.meta.events.register("before-send.pricing.GetProducts", unreachable)
    book = PriceBook.load("us-west-2", live=True, pricing_client=client)
    with pytest.warns(PriceWarning, match="Could not connect to the endpoint URL"):
        rows = book.rows("inf2")
    assert {row.origin for row in rows} == {"snapshot"}
    assert len(calls) == RETRIES["total_max_attempts"]
