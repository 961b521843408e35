"""The price book: lookup order, discounts, overrides, errors a person can act on, the prices table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from infercost.data.pricing import live
from infercost.data.pricing.book import PriceBook
from infercost.data.pricing.snapshot import load_snapshot
from infercost.domain.errors import InputError, MissingPriceError, UnknownNameError
from infercost.domain.models import Candidate, ServerlessConfig
from infercost.domain.prices import PriceLookup

FIXTURES = Path(__file__).parent.parent / "fixtures" / "pricing"


def instance(name: str, accelerator: str | None = None) -> Candidate:
    return Candidate(instance_type=name, accelerator_type=accelerator)


def stubbed_client(usd: str, name: str = "ml.g5.xlarge") -> tuple[Any, Stubber]:
    live.clear_cache()
    client = live.pricing_client()
    body = json.loads((FIXTURES / "get_products_ml_g5_xlarge.json").read_text())
    item = json.loads(body["PriceList"][0])
    item["product"]["attributes"]["instanceName"] = name
    term = next(iter(item["terms"]["OnDemand"].values()))
    next(iter(term["priceDimensions"].values()))["pricePerUnit"]["USD"] = usd
    body["PriceList"] = [json.dumps(item)]
    stub = Stubber(client)
    stub.add_response("get_products", body)
    stub.activate()
    return client, stub


# -- lookup order ----------------------------------------------------------------------------------


def test_the_book_is_a_price_lookup_for_the_cost_engine() -> None:
    book: PriceLookup = PriceBook.load("us-east-1")
    assert book.region == "us-east-1"


def test_snapshot_prices_carry_their_source_and_date() -> None:
    price = PriceBook.load("us-east-1").instance_price("ml.g5.xlarge")
    assert (price.usd_per_hour, price.source, price.discount_percent) == (1.4084, "snapshot", 0.0)
    assert price.as_of == load_snapshot().as_of  # the FMBench source is undated


def test_an_accelerator_is_added_to_its_instance() -> None:
    book = PriceBook.load("us-east-1")
    price = book.candidate_price(instance("ml.c5.large", "ml.eia2.medium"))
    assert price.usd_per_hour == pytest.approx(0.102 + 0.168)
    assert price.as_of == "2020-03"  # the older of the two parts
    assert price.detail is None


def test_instance_count_does_not_change_the_price_of_one_instance() -> None:
    book = PriceBook.load("us-east-1")
    three = Candidate(instance_type="ml.g5.xlarge", instance_count=3)
    assert book.candidate_price(three).usd_per_hour == book.instance_price("ml.g5.xlarge").usd_per_hour


def test_override_beats_live_beats_snapshot() -> None:
    client, stub = stubbed_client("1.2000000000")
    overrides = {"instances": {"ml.c5.large": 0.05}}
    book = PriceBook.load("us-east-1", overrides=overrides, live=True, pricing_client=client)
    assert book.instance_price("ml.c5.large").source == "override"  # no API call for it
    live_price = book.instance_price("ml.g5.xlarge")
    assert (live_price.usd_per_hour, live_price.source) == (1.2, "live")
    stub.assert_no_pending_responses()
    stub.deactivate()
    assert PriceBook.load("us-east-1").instance_price("ml.g5.xlarge").source == "snapshot"


def test_a_mixed_candidate_says_where_each_part_came_from() -> None:
    book = PriceBook.load("us-east-1", overrides={"instances": {"ml.c5.large": 0.1}})
    price = book.candidate_price(instance("ml.c5.large", "ml.eia2.medium"))
    assert price.source == "override"
    assert price.detail == "ml.c5.large override + ml.eia2.medium snapshot"


# -- basis ---------------------------------------------------------------------------------------


def test_a_snapshot_price_carries_the_basis_of_its_entry() -> None:
    snapshot = load_snapshot()
    published = PriceBook.load("us-east-1").instance_price("ml.m5.xlarge")
    derived = PriceBook.load("us-west-2").instance_price("ml.c5.large")
    assert snapshot.regions["us-east-1"].instances["ml.m5.xlarge"].basis == "published"
    assert (published.basis, published.estimate) == ("published", False)
    assert snapshot.regions["us-west-2"].instances["ml.c5.large"].method == "region-ratio"
    assert (derived.basis, derived.estimate) == ("derived", True)


def test_live_and_override_prices_have_their_own_basis() -> None:
    client, stub = stubbed_client("1.2000000000")
    book = PriceBook.load(
        "us-west-2", overrides={"instances": {"ml.c5.large": 0.05}}, live=True, pricing_client=client
    )
    assert book.instance_price("ml.c5.large").basis == "override"
    assert book.instance_price("ml.g5.xlarge").basis == "live"
    stub.deactivate()


def test_an_instance_and_its_accelerator_are_as_trustworthy_as_the_weaker_part() -> None:
    # us-east-1: ml.c5.large is corroborated, ml.eia2.medium published (the design anchor).
    east = PriceBook.load("us-east-1").candidate_price(instance("ml.c5.large", "ml.eia2.medium"))
    assert east.basis == "corroborated"
    overridden = PriceBook.load("us-west-2", overrides={"instances": {"ml.c5.large": 0.1}})
    mixed = overridden.candidate_price(instance("ml.c5.large", "ml.eia2.medium"))
    assert (mixed.source, mixed.basis) == ("override", "derived")


def test_serverless_rates_and_rows_carry_the_basis() -> None:
    assert PriceBook.load("us-east-1").serverless_rates().basis == "corroborated"
    assert PriceBook.load("eu-west-1").serverless_rates().basis == "derived"
    rows = {row.name: row for row in PriceBook.load("eu-west-1").rows()}
    assert rows["ml.g4dn.xlarge"].basis == "published"
    assert rows["ml.c5.large"].basis == "derived"
    assert rows["serverless compute"].basis == "derived"
    assert rows["ml.c5.large"].to_json()["basis"] == "derived"


# -- discount --------------------------------------------------------------------------------------


def test_a_discount_applies_to_list_prices_but_not_to_override_prices() -> None:
    overrides = {"discount_percent": 25, "instances": {"ml.c5.large": 0.08}}
    book = PriceBook.load("us-east-1", overrides=overrides)
    listed = book.instance_price("ml.m5.xlarge")
    assert listed.usd_per_hour == pytest.approx(0.23 * 0.75)
    assert listed.discount_percent == 25
    own = book.instance_price("ml.c5.large")
    assert (own.usd_per_hour, own.discount_percent) == (0.08, 0.0)
    rates = book.serverless_rates()
    assert rates.compute_usd_per_gb_second == pytest.approx(0.00002 * 0.75)
    assert rates.discount_percent == 25


def test_a_discount_applies_to_live_prices() -> None:
    client, stub = stubbed_client("2.0000000000")
    book = PriceBook.load("us-east-1", overrides={"discount_percent": 10}, live=True, pricing_client=client)
    assert book.instance_price("ml.g5.xlarge").usd_per_hour == pytest.approx(1.8)
    stub.deactivate()


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(sorted(load_snapshot().regions["us-east-1"].instances)),
    discount=st.floats(min_value=0, max_value=99.9),
)
def test_discounted_price_is_the_list_price_scaled_and_never_more(name: str, discount: float) -> None:
    listed = PriceBook.load("us-east-1").instance_price(name).usd_per_hour
    book = PriceBook.load("us-east-1", overrides={"discount_percent": discount})
    discounted = book.instance_price(name).usd_per_hour
    assert discounted == pytest.approx(listed * (1 - discount / 100))
    assert 0 < discounted <= listed


@settings(max_examples=30, deadline=None)
@given(
    region=st.sampled_from(sorted(load_snapshot().regions)),
    data=st.data(),
)
def test_every_bundled_candidate_price_is_the_sum_of_its_parts(region: str, data: st.DataObject) -> None:
    bundled = load_snapshot().regions[region]
    name = data.draw(st.sampled_from(sorted(bundled.instances)))
    accelerator = data.draw(st.sampled_from(sorted(bundled.accelerators)))
    book = PriceBook.load(region)
    total = book.candidate_price(instance(name, accelerator)).usd_per_hour
    assert total == pytest.approx(bundled.instances[name].usd + bundled.accelerators[accelerator].usd)


# -- regional overrides and files ------------------------------------------------------------------


def test_a_region_section_wins_over_the_top_level() -> None:
    overrides = {
        "discount_percent": 10,
        "instances": {"ml.g5.xlarge": 1.0},
        "regions": {"eu-west-1": {"instances": {"ml.g5.xlarge": 1.1}, "discount_percent": 0}},
    }
    eu = PriceBook.load("eu-west-1", overrides=overrides)
    us = PriceBook.load("us-east-1", overrides=overrides)
    assert eu.instance_price("ml.g5.xlarge").usd_per_hour == 1.1
    assert us.instance_price("ml.g5.xlarge").usd_per_hour == 1.0
    assert eu.instance_price("ml.m5.xlarge").usd_per_hour == 0.257  # no discount in eu-west-1
    assert us.instance_price("ml.m5.xlarge").usd_per_hour == pytest.approx(0.207)


def test_overrides_are_read_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"accelerators": {"ml.eia2.medium": 0.12}, "note": "2024 contract"}))
    price = PriceBook.load("us-east-1", overrides=path).accelerator_price("ml.eia2.medium")
    assert (price.usd_per_hour, price.source, price.detail) == (0.12, "override", "prices.json")
    assert (
        PriceBook.load("us-east-1", overrides=str(path)).accelerator_price("ml.eia2.medium").usd_per_hour
        == 0.12
    )


def test_overrides_price_a_region_the_snapshot_does_not_cover() -> None:
    overrides = {
        "instances": {"ml.c5.large": 0.116},
        "serverless": {"compute_usd_per_gb_second": 0.000024, "data_usd_per_gb": 0.016},
    }
    book = PriceBook.load("eu-central-1", overrides=overrides)
    assert book.candidate_price(instance("ml.c5.large")).usd_per_hour == 0.116
    rates = book.serverless_rates()
    assert (rates.compute_usd_per_gb_second, rates.source) == (0.000024, "override")
    with pytest.raises(MissingPriceError, match=r"no price for instance type ml\.m5\.large in eu-central-1"):
        book.instance_price("ml.m5.large")


def test_a_partial_serverless_override_keeps_the_other_listed_rate() -> None:
    book = PriceBook.load("us-east-1", overrides={"serverless": {"data_usd_per_gb": 0.01}})
    rates = book.serverless_rates()
    assert (rates.compute_usd_per_gb_second, rates.data_usd_per_gb) == (0.00002, 0.01)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"instances": {"ml.g5.xlarge": -1}}, "instances.ml.g5.xlarge", "must be a number ≥ 0"),
        ({"instances": {"ml.g5.xlarge": "1.2"}}, "instances.ml.g5.xlarge", "must be a number ≥ 0"),
        ({"instances": {"ml.g5.xlarge": True}}, "instances.ml.g5.xlarge", "must be a number ≥ 0"),
        ({"instances": {"g5.xlarge": 1}}, "instances", "'g5.xlarge' is not a name like ml.g5.xlarge"),
        ({"accelerators": {"ml.eia3.medium": 1}}, "accelerators", "not a name like ml.eia2.medium"),
        ({"instances": [1]}, "instances", "must be an object"),
        ({"discount_percent": 100}, "discount_percent", "from 0 to below 100"),
        ({"discount_percent": -5}, "discount_percent", "from 0 to below 100"),
        ({"instance": {}}, "instance", "unknown key 'instance'"),
        ({"serverless": {"compute": 1}}, "serverless.compute", "unknown key"),
        ({"serverless": 3}, "serverless", "must be an object"),
        (
            {"regions": {"eu-west-1": {"instances": {"ml.c5.large": -2}}}},
            "regions.eu-west-1.instances.ml.c5.large",
            "≥ 0",
        ),
        ({"regions": {"Ireland": {}}}, "regions.Ireland", "not an AWS region code"),
        ({"regions": {"eu-west-1": 5}}, "regions.eu-west-1", "must be an object"),
        ({"regions": []}, "regions", "must be an object"),
        ({"regions": {"eu-west-1": {"regions": {}}}}, "regions.eu-west-1.regions", "unknown key"),
    ],
)
def test_a_malformed_overrides_value_names_its_field(overrides: Any, field: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        PriceBook.load("us-east-1", overrides=overrides)
    assert caught.value.field == field
    assert message in caught.value.message
    assert "\n" not in str(caught.value)


def test_an_overrides_file_that_is_not_an_object_or_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text("[1, 2]")
    with pytest.raises(InputError, match="must be a JSON object"):
        PriceBook.load("us-east-1", overrides=path)
    path.write_text("{nope")
    with pytest.raises(InputError, match="not valid JSON"):
        PriceBook.load("us-east-1", overrides=path)
    with pytest.raises(InputError, match="no such file"):
        PriceBook.load("us-east-1", overrides=tmp_path / "missing.json")


# -- unknown and missing names ---------------------------------------------------------------------


def test_an_unknown_instance_type_is_named_with_close_suggestions() -> None:
    with pytest.raises(UnknownNameError) as caught:
        PriceBook.load("us-east-1").instance_price("ml.c5.larg")
    assert str(caught.value).startswith(
        "unknown instance type 'ml.c5.larg' in us-east-1 (did you mean ml.c5.large"
    )


def test_an_unknown_accelerator_is_named_with_suggestions() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown accelerator 'ml.eia2.mediun' .*ml.eia2.medium"):
        PriceBook.load("us-east-1").accelerator_price("ml.eia2.mediun")


def test_an_accelerator_given_as_instance_type_says_where_it_belongs() -> None:
    with pytest.raises(
        UnknownNameError, match="is an Elastic Inference accelerator; give it as accelerator_type"
    ):
        PriceBook.load("us-east-1").instance_price("ml.eia2.medium")
    with pytest.raises(UnknownNameError, match="is an instance type; give it as instance_type"):
        PriceBook.load("us-east-1").accelerator_price("ml.c5.large")


def test_a_known_type_without_a_price_here_names_the_regions_that_have_it() -> None:
    with pytest.raises(MissingPriceError) as caught:
        PriceBook.load("eu-west-1").instance_price("ml.g6.xlarge")
    assert caught.value.message == "no price for instance type ml.g6.xlarge in eu-west-1"
    assert caught.value.hint is not None
    assert "ap-northeast-1, us-east-1, us-west-2" in caught.value.hint


def test_a_real_sagemaker_type_that_no_region_prices_is_missing_not_unknown() -> None:
    with pytest.raises(MissingPriceError, match="no bundled price in any region"):
        PriceBook.load("us-east-1").instance_price("ml.p4d.24xlarge")


def test_an_unknown_region_is_refused_with_suggestions() -> None:
    with pytest.raises(UnknownNameError) as caught:
        PriceBook.load("us-east-l")
    assert caught.value.field == "region"
    assert "us-east-1" in (caught.value.hint or "")


def test_a_real_region_without_bundled_prices_fails_only_when_asked_for_a_price() -> None:
    book = PriceBook.load("eu-central-1")
    with pytest.raises(MissingPriceError, match="no serverless rates for eu-central-1"):
        book.serverless_rates()


def test_a_serverless_candidate_has_no_hourly_price() -> None:
    serverless = Candidate(serverless=ServerlessConfig(memory_mb=2048))
    with pytest.raises(InputError, match="no hourly price"):
        PriceBook.load("us-east-1").candidate_price(serverless)


def test_check_candidate_names_the_field_at_fault() -> None:
    book = PriceBook.load("eu-west-1")
    book.check_candidate(instance("ml.c5.large", "ml.eia2.medium"))
    book.check_candidate(instance("ml.m5.large"))
    book.check_candidate(Candidate(serverless=ServerlessConfig(memory_mb=4096)))
    with pytest.raises(UnknownNameError) as caught:
        book.check_candidate(instance("ml.c5.larg", "ml.eia2.medium"))
    assert caught.value.field == "instance_type"
    with pytest.raises(UnknownNameError) as misplaced:
        book.check_candidate(
            instance("ml.c5.large", "ml.eia2.medium").model_copy(update={"accelerator_type": "ml.c5.xlarge"})
        )
    assert misplaced.value.field == "accelerator_type"
    with pytest.raises(MissingPriceError) as missing:
        book.check_candidate(instance("ml.g6.xlarge"))
    assert missing.value.field == "instance_type"
    with pytest.raises(MissingPriceError) as serverless:
        PriceBook.load("eu-central-1").check_candidate(Candidate(serverless=ServerlessConfig(memory_mb=1024)))
    assert serverless.value.field == "serverless"


# -- the prices table ------------------------------------------------------------------------------


def test_rows_list_every_bundled_price_with_its_source() -> None:
    book = PriceBook.load("us-east-1")
    rows = book.rows()
    bundled = load_snapshot().regions["us-east-1"]
    assert len(rows) == len(bundled.instances) + len(bundled.accelerators) + 2
    by_name = {row.name: row for row in rows}
    assert by_name["ml.m5.xlarge"].source == "snapshot: aws-fmbench (published)"
    assert by_name["ml.c6i.large"].source == "snapshot: derived from us-east-1 (same-as-c5)"
    assert by_name["serverless compute"].unit == "GB-second"
    assert by_name["ml.m5.xlarge"].to_json()["usd_per_hour"] == 0.23


def test_rows_of_one_family_are_cheapest_first() -> None:
    rows = PriceBook.load("ap-northeast-1").rows("g5")
    assert {row.name.split(".")[1] for row in rows} == {"g5"}
    assert [row.usd for row in rows] == sorted(row.usd for row in rows)
    assert [row.kind for row in PriceBook.load("us-east-1").rows("eia2")] == ["accelerator"] * 3
    assert [row.unit for row in PriceBook.load("us-east-1").rows("serverless")] == ["GB-second", "GB"]


def test_rows_show_overrides_and_discounts() -> None:
    overrides = {"discount_percent": 20, "instances": {"ml.g5.xlarge": 1.0}}
    rows = {row.name: row for row in PriceBook.load("us-east-1", overrides=overrides).rows("g5")}
    assert rows["ml.g5.xlarge"].source == "override (overrides)"
    assert rows["ml.g5.2xlarge"].source.endswith(", 20% off")
    assert rows["ml.g5.2xlarge"].usd == pytest.approx(1.515 * 0.8)


def test_an_unknown_family_is_refused_with_a_suggestion() -> None:
    with pytest.raises(UnknownNameError) as caught:
        PriceBook.load("us-east-1").rows("g55")
    assert (caught.value.field, caught.value.hint) == ("--family", "did you mean g5?")


def test_the_book_gives_the_snapshot_date() -> None:
    assert PriceBook.load("us-west-2").snapshot_as_of == load_snapshot().as_of


def test_serverless_rows_show_the_discount() -> None:
    rows = PriceBook.load("eu-west-1", overrides={"discount_percent": 10}).rows("serverless")
    assert [row.source for row in rows] == ["snapshot: derived, 10% off"] * 2
    assert rows[0].usd == pytest.approx(
        load_snapshot().regions["eu-west-1"].serverless.compute_usd_per_gb_second * 0.9
    )  # type: ignore[union-attr]
