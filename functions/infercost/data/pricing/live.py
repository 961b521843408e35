"""The AWS Price List API (`pricing` client): on-demand SageMaker hosting prices, per-process cache.

GetProducts with ServiceCode AmazonSageMaker and TERM_MATCH filters on the product attributes
SageMaker uses: regionCode (e.g. us-east-1), component (Hosting = real-time inference) and
instanceName (e.g. ml.g5.xlarge; Elastic Inference accelerators are priced under their ml.eia*
name). Each PriceList entry is a JSON string: product.attributes, terms.OnDemand.<term>.
priceDimensions.<dimension>.pricePerUnit.USD with unit Hrs. The API is served only from
us-east-1, eu-central-1 and ap-south-1, whatever region is being priced.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

SERVICE_CODE = "AmazonSageMaker"
HOSTING_COMPONENT = "Hosting"
PRICING_API_REGIONS = ("us-east-1", "eu-central-1", "ap-south-1")
# Throttling (and other transient errors) are retried by botocore with exponential backoff.
PAGE_SIZE = 100

# Per process. The local stack, which runs every function in one process, splits it by function
# while it records their calls (local/calls.py): on AWS one function's answer never spares another.
_cache: MutableMapping[tuple[str, str, str | None], dict[str, LivePrice]] = {}


class LivePriceError(Exception):
    """The Price List API could not be used; the message names the failure in one line."""


@dataclass(frozen=True)
class LivePrice:
    """One on-demand hosting price from the Price List API."""

    name: str
    usd_per_hour: float
    as_of: str | None
    usage_type: str | None = None


def pricing_client(api_region: str = "us-east-1", *, endpoint_url: str | None = None) -> Any:
    """A boto3 `pricing` client in one of the regions that serve the API, retrying throttling."""
    from infercost.data.clients import new_client

    if api_region not in PRICING_API_REGIONS:
        api_region = PRICING_API_REGIONS[0]
    return new_client("pricing", region=api_region, endpoint_url=endpoint_url)


def hosting_prices(client: Any, region: str, *, instance_name: str | None = None) -> dict[str, LivePrice]:
    """Hosting prices in `region` by name: one name, or every name when `instance_name` is None."""
    key = (str(client.meta.endpoint_url), region, instance_name)
    if key not in _cache:
        _cache[key] = _fetch(client, region, instance_name)
    return dict(_cache[key])


def clear_cache() -> None:
    """Forget cached answers (tests, or a long-lived process that wants fresh prices)."""
    _cache.clear()


def product_filters(region: str, instance_name: str | None) -> list[dict[str, str]]:
    filters = {"regionCode": region, "component": HOSTING_COMPONENT}
    if instance_name is not None:
        filters["instanceName"] = instance_name
    return [{"Type": "TERM_MATCH", "Field": name, "Value": value} for name, value in filters.items()]


def _fetch(client: Any, region: str, instance_name: str | None) -> dict[str, LivePrice]:
    from botocore.exceptions import BotoCoreError, ClientError

    prices: dict[str, LivePrice] = {}
    try:
        pages = client.get_paginator("get_products").paginate(
            ServiceCode=SERVICE_CODE,
            Filters=product_filters(region, instance_name),
            FormatVersion="aws_v1",
            PaginationConfig={"PageSize": PAGE_SIZE},
        )
        for page in pages:
            for item in page.get("PriceList", []):
                price = parse_price_item(item)
                if price is not None and _preferred(price, prices.get(price.name)):
                    prices[price.name] = price
    except ClientError as error:
        details = error.response.get("Error", {})
        code = details.get("Code", "error")
        raise LivePriceError(f"GetProducts failed: {code}: {details.get('Message') or error}") from None
    except BotoCoreError as error:
        raise LivePriceError(f"GetProducts failed: {error}") from None
    return prices


def parse_price_item(item: str | dict[str, Any]) -> LivePrice | None:
    """Read one PriceList entry; None unless it holds an hourly on-demand USD price of ml.*."""
    try:
        data = json.loads(item) if isinstance(item, str) else item
        attributes = data["product"]["attributes"]
        name = attributes["instanceName"]
        on_demand = data.get("terms", {}).get("OnDemand", {})
    except (ValueError, KeyError, TypeError) as error:
        raise LivePriceError(
            f"GetProducts returned a PriceList entry that is not a product: {error}"
        ) from None
    if not str(name).startswith("ml."):
        return None
    for term in on_demand.values():
        for dimension in term.get("priceDimensions", {}).values():
            usd = dimension.get("pricePerUnit", {}).get("USD")
            if dimension.get("unit", "").lower() not in ("hrs", "hours") or usd is None:
                continue
            try:
                value = float(usd)
            except ValueError:
                raise LivePriceError(f"GetProducts returned a price that is not a number: {usd!r}") from None
            if value > 0:
                published = data.get("publicationDate")
                return LivePrice(
                    name=name,
                    usd_per_hour=value,
                    as_of=str(published)[:10] if published else None,
                    usage_type=attributes.get("usagetype"),
                )
    return None


def _preferred(candidate: LivePrice, current: LivePrice | None) -> bool:
    # Several SKUs can share a name; the plain hosting usage type ("USE1-Host:ml.g5.xlarge") wins.
    if current is None:
        return True
    return _is_plain_hosting(candidate) and not _is_plain_hosting(current)


def _is_plain_hosting(price: LivePrice) -> bool:
    return bool(price.usage_type) and str(price.usage_type).endswith(f"Host:{price.name}")
