"""The bundled snapshot: coverage, provenance of every price, and that nothing reads it at import."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from importlib import resources
from typing import Any

import pytest

from infercost.data.pricing.snapshot import SnapshotError, load_snapshot, parse_snapshot

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1")
FAMILIES = ("c5", "m5", "c6i", "m6i", "c7g", "g4dn", "g5", "g6", "p3", "inf1", "inf2")
# EC2 offers no g6 in eu-west-1 (see the regional EC2 source), so SageMaker has no price there.
NOT_OFFERED = {("eu-west-1", "g6")}
ACCELERATORS = {f"ml.eia{gen}.{size}" for gen in (1, 2) for size in ("medium", "large", "xlarge")}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    text = resources.files("infercost.data.pricing").joinpath("snapshot.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def test_the_file_states_its_date_and_sources(raw: dict[str, Any]) -> None:
    assert raw["as_of"] == load_snapshot().as_of
    assert raw["as_of"] >= "2026-01-01"
    for key, source in raw["sources"].items():
        assert source["title"] and source["url"], key
        assert source["kind"] in ("published", "corroborated", "ratio"), key


@pytest.mark.parametrize("region", REGIONS)
def test_every_region_has_the_required_families(region: str) -> None:
    prices = load_snapshot().regions[region]
    families = {name.split(".")[1] for name in prices.instances}
    expected = {family for family in FAMILIES if (region, family) not in NOT_OFFERED}
    assert expected <= families


@pytest.mark.parametrize("region", REGIONS)
def test_every_region_has_accelerators_and_serverless_rates(region: str) -> None:
    prices = load_snapshot().regions[region]
    assert set(prices.accelerators) == ACCELERATORS
    assert prices.serverless is not None
    assert 0 < prices.serverless.compute_usd_per_gb_second < 0.001
    assert 0 < prices.serverless.data_usd_per_gb < 1


def test_every_price_is_positive_and_traceable(raw: dict[str, Any]) -> None:
    sources, methods = raw["sources"], raw["methods"]
    seen = 0
    for region, body in raw["regions"].items():
        entries = [
            *body["instances"].items(),
            *body["accelerators"].items(),
            ("serverless", body["serverless"]),
        ]
        for name, entry in entries:
            seen += 1
            where = f"{region} {name}"
            usd = entry.get("usd_per_hour", entry.get("compute_usd_per_gb_second"))
            assert usd > 0, where
            assert entry["basis"] in ("published", "corroborated", "derived"), where
            if entry["basis"] == "derived":
                assert entry["method"] in methods, where
                assert entry["source"] in raw["regions"] or entry["source"] in sources, where
                if entry["method"] == "region-ratio":
                    assert entry["ratio_source"] in sources, where
                    assert entry["source"] == "us-east-1", where
            else:
                assert entry["source"] in sources, where
                assert sources[entry["source"]]["kind"] in ("published", "corroborated"), where
    assert seen > 200


def test_region_ratio_prices_are_the_us_east_1_price_times_the_stated_ratio(raw: dict[str, Any]) -> None:
    base = raw["regions"]["us-east-1"]["instances"]
    for region in ("us-west-2", "eu-west-1", "ap-northeast-1"):
        for name, entry in raw["regions"][region]["instances"].items():
            if entry.get("method") == "region-ratio":
                expected = base[name]["usd_per_hour"] * entry["ratio"]
                assert entry["usd_per_hour"] == pytest.approx(expected, rel=1e-3), f"{region} {name}"


def test_published_eu_west_1_rates_agree_with_the_derivation_method(raw: dict[str, Any]) -> None:
    # The regional-ratio method is only trustworthy if it reproduces the rates AWS billed.
    base = raw["regions"]["us-east-1"]["instances"]
    eu = raw["regions"]["eu-west-1"]["instances"]
    ratio_g4dn = next(e["ratio"] for n, e in eu.items() if n.startswith("ml.g4dn.") and "ratio" in e)
    for name in ("ml.g4dn.xlarge", "ml.g4dn.4xlarge", "ml.g4dn.12xlarge"):
        assert eu[name]["basis"] == "published"
        assert eu[name]["usd_per_hour"] == pytest.approx(base[name]["usd_per_hour"] * ratio_g4dn, rel=3e-3)


def test_the_design_worked_example_anchor_is_kept(raw: dict[str, Any]) -> None:
    # docs/method.md, 4.1: ml.c5.large + ml.eia2.medium = $0.287/h in 2020, when ml.c5.large cost $0.119/h.
    eia = raw["regions"]["us-east-1"]["accelerators"]["ml.eia2.medium"]
    assert eia["source"] == "design-anchor"
    assert eia["usd_per_hour"] == pytest.approx(0.287 - 0.119)


# The families teams host on (docs/pricing.md, "What the snapshot holds"): bundled where a
# published or corroborated figure exists, left to the live Price List API where none does.
G6E_BUNDLED = ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "24xlarge", "48xlarge")
LEFT_TO_THE_LIVE_API = (
    "ml.g6e.16xlarge",
    "ml.p4d.24xlarge",
    "ml.p5.48xlarge",
    "ml.c7i.large",
    "ml.m7i.large",
    "ml.r7i.large",
    "ml.trn1.2xlarge",
)


def test_g6e_sizes_with_a_found_figure_are_bundled_with_their_source(raw: dict[str, Any]) -> None:
    east = raw["regions"]["us-east-1"]["instances"]
    for size in G6E_BUNDLED:
        entry = east[f"ml.g6e.{size}"]
        assert entry["basis"] in ("published", "corroborated"), size
        assert raw["sources"][entry["source"]]["kind"] == entry["basis"], size
    # Larger sizes cost more.
    prices = [east[f"ml.g6e.{size}"]["usd_per_hour"] for size in G6E_BUNDLED]
    assert prices == sorted(prices)
    assert east["ml.g6e.2xlarge"]["source"] == "pricelist-g6e-2xlarge"
    # trn1.32xlarge is published (aws-fmbench).
    assert east["ml.trn1.32xlarge"]["basis"] == "published"


@pytest.mark.parametrize("name", LEFT_TO_THE_LIVE_API)
def test_types_without_a_published_figure_are_left_to_the_live_price_list(name: str) -> None:
    from infercost.data.pricing.book import PriceBook
    from infercost.domain.errors import MissingPriceError

    assert load_snapshot().regions_with("instance", name) == []
    with pytest.raises(MissingPriceError) as caught:
        PriceBook.load("us-east-1").instance_price(name)
    assert "use the live Price List" in (caught.value.hint or "")


def test_importing_the_package_reads_no_snapshot_and_no_boto3() -> None:
    code = (
        "import sys, infercost.data.pricing, infercost.data.pricing.snapshot as s;"
        "print(s.load_snapshot.cache_info().currsize, 'boto3' in sys.modules, 'botocore' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False", "False"]


def test_the_snapshot_is_parsed_once_per_process() -> None:
    assert load_snapshot() is load_snapshot()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema="other"), "schema"),
        (lambda d: d["regions"]["us-east-1"]["instances"]["ml.c5.large"].update(usd_per_hour=0), "> 0"),
        (lambda d: d["regions"]["us-east-1"]["instances"]["ml.c5.large"].update(usd_per_hour=True), "> 0"),
        (lambda d: d["regions"]["us-east-1"]["instances"]["ml.c5.large"].update(source="nowhere"), "nowhere"),
        (lambda d: d["regions"]["us-east-1"]["instances"]["ml.c5.large"].pop("basis"), "basis"),
        (lambda d: d["regions"]["us-west-2"]["instances"]["ml.c5.large"].pop("method"), "method"),
        (lambda d: d["regions"]["us-east-1"]["instances"]["ml.c5.large"].update(basis="guess"), "guess"),
        (
            lambda d: d["regions"]["us-east-1"]["instances"]["ml.m5.xlarge"].update(method="same-as-c5"),
            "a published one has none",
        ),
        (
            lambda d: d["regions"]["us-west-2"]["instances"]["ml.c5.large"].update(basis="published"),
            "a published one has none",
        ),
        (lambda d: d["regions"]["us-east-1"]["serverless"].update(data_usd_per_gb=-1), "data"),
        (lambda d: d["regions"]["us-east-1"].update(instances=[]), "must be an object"),
        (lambda d: d["regions"].update({"us-east-1": []}), "must be an object"),
        (lambda d: d["regions"]["us-east-1"]["instances"].update({"ml.c5.large": 0.1}), "object"),
        (lambda d: d.update(regions={}), "at least one region"),
        (lambda d: d.update(sources={}), "at least one source"),
        (lambda d: d.update(as_of=""), "as_of"),
    ],
)
def test_a_malformed_snapshot_is_refused(raw: dict[str, Any], mutate: Any, message: str) -> None:
    data = copy.deepcopy(raw)
    mutate(data)
    with pytest.raises(SnapshotError, match=message):
        parse_snapshot(data)
