"""The local Pricing API: PriceBook(live=True) against moto, in-process and over ThreadedMotoServer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.server import ThreadedMotoServer

from infercost.data.pricing import live
from infercost.data.pricing.book import PriceBook
from infercost.data.pricing.snapshot import load_snapshot
from infercost.domain.models import Candidate
from infercost.local import pricing_api


@pytest.fixture(autouse=True)
def installed() -> Iterator[None]:
    pricing_api.install()
    live.clear_cache()
    yield
    live.clear_cache()


@pytest.fixture
def in_process() -> Iterator[Any]:
    with mock_aws():
        yield live.pricing_client()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    pricing_api.install()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        moto.stop()


def test_install_is_idempotent() -> None:
    from moto import backend_index

    pricing_api.install()
    pricing_api.install()
    assert [s for s, _ in backend_index.backend_url_patterns].count("pricing") == 1


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-northeast-1"])
def test_live_prices_from_the_local_api_equal_the_snapshot(in_process: Any, region: str) -> None:
    bundled = load_snapshot().regions[region]
    book = PriceBook.load(region, live=True, pricing_client=in_process)
    for name in ("ml.c5.large", "ml.g5.xlarge", "ml.inf2.xlarge"):
        price = book.instance_price(name)
        assert (price.source, price.usd_per_hour) == ("live", bundled.instances[name].usd)
    accelerator = book.accelerator_price("ml.eia2.medium")
    assert (accelerator.source, accelerator.usd_per_hour) == (
        "live",
        bundled.accelerators["ml.eia2.medium"].usd,
    )
    assert book.warnings == []


def test_the_answer_has_the_real_price_list_shape(in_process: Any) -> None:
    answer = in_process.get_products(
        ServiceCode="AmazonSageMaker",
        Filters=[
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-west-2"},
            {"Type": "TERM_MATCH", "Field": "instanceName", "Value": "ml.g4dn.xlarge"},
            {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "ML Instance"},
        ],
    )
    assert answer["FormatVersion"] == "aws_v1"
    (item,) = [json.loads(text) for text in answer["PriceList"]]
    attributes = item["product"]["attributes"]
    assert attributes["usagetype"] == "USW2-Host:ml.g4dn.xlarge"
    assert attributes["component"] == "Hosting"
    (term,) = item["terms"]["OnDemand"].values()
    (dimension,) = term["priceDimensions"].values()
    assert dimension["unit"] == "Hrs"
    assert (
        float(dimension["pricePerUnit"]["USD"])
        == load_snapshot().regions["us-west-2"].instances["ml.g4dn.xlarge"].usd
    )


def test_pages_follow_next_token(in_process: Any) -> None:
    region_filter = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"}]
    first = in_process.get_products(ServiceCode="AmazonSageMaker", Filters=region_filter, MaxResults=10)
    assert len(first["PriceList"]) == 10 and first["NextToken"]
    names = []
    for page in in_process.get_paginator("get_products").paginate(
        ServiceCode="AmazonSageMaker", Filters=region_filter, PaginationConfig={"PageSize": 7}
    ):
        names += [json.loads(text)["product"]["attributes"]["instanceName"] for text in page["PriceList"]]
    bundled = load_snapshot().regions["us-east-1"]
    assert sorted(names) == sorted([*bundled.instances, *bundled.accelerators])


def test_other_services_and_bad_parameters(in_process: Any) -> None:
    assert in_process.get_products(ServiceCode="AmazonEC2")["PriceList"] == []
    with pytest.raises(ClientError, match="NextToken"):
        in_process.get_products(ServiceCode="AmazonSageMaker", NextToken="not-a-token")
    with pytest.raises(ClientError, match="TERM_MATCH"):
        in_process.get_products(
            ServiceCode="AmazonSageMaker", Filters=[{"Type": "ANY_OF", "Field": "regionCode", "Value": "x"}]
        )


def test_the_price_book_works_against_the_threaded_moto_server(server: str) -> None:
    client = live.pricing_client(endpoint_url=server)
    book = PriceBook.load("eu-west-1", live=True, pricing_client=client)
    price = book.candidate_price(Candidate(instance_type="ml.m5.xlarge", accelerator_type="ml.eia2.medium"))
    bundled = load_snapshot().regions["eu-west-1"]
    assert price.source == "live"
    assert price.usd_per_hour == pytest.approx(
        bundled.instances["ml.m5.xlarge"].usd + bundled.accelerators["ml.eia2.medium"].usd
    )
    rows = book.rows()
    assert {row.origin for row in rows if row.kind != "serverless"} == {"live"}
    assert book.warnings == []


def test_the_server_serves_other_api_regions_too(server: str) -> None:
    client = boto3.client("pricing", region_name="ap-south-1", endpoint_url=server)
    answer = client.get_products(
        ServiceCode="AmazonSageMaker",
        Filters=[{"Type": "TERM_MATCH", "Field": "instanceName", "Value": "ml.p3.2xlarge"}],
    )
    regions = sorted(json.loads(text)["product"]["attributes"]["regionCode"] for text in answer["PriceList"])
    assert regions == ["ap-northeast-1", "eu-west-1", "us-east-1", "us-west-2"]


def test_the_backend_refuses_a_page_size_the_api_does_not_allow() -> None:
    backend = pricing_api.PricingBackend("us-east-1", "123456789012")
    with pytest.raises(pricing_api.InvalidParameterException):
        backend.get_products("AmazonSageMaker", [], max_results=101, next_token=None)
