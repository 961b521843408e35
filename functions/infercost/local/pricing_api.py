"""A local AWS Price List API for moto: `pricing:GetProducts` served from the snapshot.

`install()` registers a `pricing` service with moto in two places, so that a boto3 `pricing`
client works both in-process under `moto.mock_aws()` and against `ThreadedMotoServer`:

* a URL pattern in `moto.backend_index.backend_url_patterns` (both the in-process request hook and
  the server's host dispatcher read this list at request time), matching the real endpoint
  `api.pricing.<region>.amazonaws.com` and the host `pricing.<region>.amazonaws.com` the server
  infers from the request signature;
* a `moto.pricing` entry in `sys.modules`, because moto looks a service's backend up with
  `importlib.import_module("moto.<service>").<service>_backends`.

Answers have the real shape: each PriceList item is a JSON string with product.attributes
(regionCode, instanceName, component, usagetype, ...) and terms.OnDemand...pricePerUnit.USD.
TERM_MATCH filters apply to any attribute; MaxResults / NextToken paginate.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterator
from typing import Any

from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse

from infercost.data.pricing.snapshot import SECTIONS, Snapshot, load_snapshot

SERVICE = "pricing"
URL_PATTERN = (SERVICE, re.compile(r"https?://(api\.)?pricing\.(.+)\.amazonaws\.com"))
SERVICE_CODE = "AmazonSageMaker"
MAX_RESULTS = 100
_ON_DEMAND = "JRTCKXETXF"  # the offer term code AWS uses for on-demand
_HOURLY = "6YS6EN2CT7"  # the rate code suffix AWS uses for hourly dimensions
# Usage-type prefixes of the regions the snapshot covers, as in "USE1-Host:ml.g5.xlarge".
_USAGE_PREFIX = {
    "us-east-1": "USE1",
    "us-west-2": "USW2",
    "eu-west-1": "EU",
    "ap-northeast-1": "APN1",
}
_LOCATION = {
    "us-east-1": "US East (N. Virginia)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
}

url_bases = [URL_PATTERN[1].pattern]
url_paths: dict[str, Any] = {}  # filled below, once PricingResponse exists


def install() -> None:
    """Make moto answer `pricing` requests; calling it again changes nothing."""
    from moto import backend_index

    if not any(service == SERVICE for service, _ in backend_index.backend_url_patterns):
        backend_index.backend_url_patterns.append(URL_PATTERN)
    sys.modules.setdefault(f"moto.{SERVICE}", sys.modules[__name__])


class InvalidParameterException(JsonRESTError):
    def __init__(self, message: str):
        super().__init__("InvalidParameterException", message)


class PricingBackend(BaseBackend):
    """Stateless: every answer is built from the bundled price snapshot."""

    @property
    def _url_module(self) -> Any:
        # moto derives "<package>.urls" from the class's module; this module holds the urls itself.
        return sys.modules[__name__]

    def get_products(
        self,
        service_code: str,
        filters: list[dict[str, str]],
        max_results: int,
        next_token: str | None,
    ) -> tuple[list[str], str | None]:
        if not 1 <= max_results <= MAX_RESULTS:
            raise InvalidParameterException(f"MaxResults must be between 1 and {MAX_RESULTS}")
        start = 0
        if next_token:
            if not next_token.isdigit():
                raise InvalidParameterException("The NextToken is not valid")
            start = int(next_token)
        wanted = {}
        for item in filters:
            if item.get("Type", "TERM_MATCH") != "TERM_MATCH":
                raise InvalidParameterException("Only TERM_MATCH filters are supported")
            wanted[item["Field"]] = item["Value"]
        products = []
        if service_code == SERVICE_CODE:
            products = [
                p
                for p in sagemaker_products(load_snapshot())
                if all(_field(p, name) == value for name, value in wanted.items())
            ]
        page = products[start : start + max_results]
        more = start + max_results < len(products)
        return [json.dumps(p) for p in page], (str(start + max_results) if more else None)


class PricingResponse(BaseResponse):
    def __init__(self) -> None:
        super().__init__(service_name=SERVICE)

    @property
    def backend(self) -> PricingBackend:
        return pricing_backends[self.current_account][self.region]

    def get_products(self) -> str:
        price_list, next_token = self.backend.get_products(
            service_code=self._get_param("ServiceCode"),
            filters=self._get_param("Filters", []),
            max_results=int(self._get_param("MaxResults", MAX_RESULTS)),
            next_token=self._get_param("NextToken"),
        )
        body: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": price_list}
        if next_token:
            body["NextToken"] = next_token
        return json.dumps(body)


url_paths["{0}/$"] = PricingResponse.dispatch
pricing_backends = BackendDict(PricingBackend, SERVICE)


def _field(product: dict[str, Any], name: str) -> str | None:
    # Filters name attributes, or the product's own productFamily / sku, as the real API allows.
    item = product["product"]
    value = item["attributes"].get(name, item.get(name))
    return None if value is None else str(value)


def sagemaker_products(snapshot: Snapshot) -> Iterator[dict[str, Any]]:
    """The snapshot's hosting prices as Price List products, in the real offer-file shape."""
    published = f"{snapshot.as_of}T00:00:00Z"
    for region, prices in sorted(snapshot.regions.items()):
        for kind in SECTIONS:
            for name, price in sorted(prices.section(kind).items()):
                yield _product(region, name, price.usd, published)


def _product(region: str, name: str, usd: float, published: str) -> dict[str, Any]:
    sku = hashlib.sha256(f"{region}/{name}".encode()).hexdigest()[:16].upper()
    prefix = _USAGE_PREFIX.get(region, region.upper())
    term = f"{sku}.{_ON_DEMAND}"
    location = _LOCATION.get(region, region)
    return {
        "product": {
            "productFamily": "ML Instance",
            "attributes": {
                "regionCode": region,
                "servicecode": SERVICE_CODE,
                "location": location,
                "locationType": "AWS Region",
                "instanceName": name,
                "instanceType": f"{name}-Hosting",
                "component": "Hosting",
                "usagetype": f"{prefix}-Host:{name}",
                "operation": "RunInstance",
                "servicename": "Amazon SageMaker",
            },
            "sku": sku,
        },
        "serviceCode": SERVICE_CODE,
        "terms": {
            "OnDemand": {
                term: {
                    "priceDimensions": {
                        f"{term}.{_HOURLY}": {
                            "unit": "Hrs",
                            "endRange": "Inf",
                            "description": f"${usd:.4f} per Hosting {name} hour in {location}",
                            "appliesTo": [],
                            "rateCode": f"{term}.{_HOURLY}",
                            "beginRange": "0",
                            "pricePerUnit": {"USD": f"{usd:.10f}"},
                        }
                    },
                    "sku": sku,
                    "effectiveDate": published,
                    "offerTermCode": _ON_DEMAND,
                    "termAttributes": {},
                }
            }
        },
        "version": published.replace("-", "").replace(":", "").replace("T", "")[:14],
        "publicationDate": published,
    }
