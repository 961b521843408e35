"""SageMaker Savings Plans rates from the Savings Plans API (`savingsplans` client), per-process cache.

DescribeSavingsPlansOfferingRates with savingsPlanTypes SageMaker, products SageMaker, serviceCodes
AmazonSageMaker and filters on region and instanceType. Each search result is one offering (term
in `durationSeconds`, `paymentOption`) and one usage type; the hosting usage type ends in
`Host:<instance type>` (e.g. `USE1-Host:ml.g5.xlarge`), the other components' (training,
processing, notebooks) are left out. `rate` is the hourly rate of the instance under the plan, USD
per `Hrs`. The API is global (savingsplans.amazonaws.com); it has no paginator, so `nextToken` is
followed by hand, at most 1,000 results a page (the API's maximum). Throttling is retried by the
client's configuration (infercost.data.clients.RETRIES).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from infercost.domain.prices import SavingsPlanPayment, SavingsPlanTerm

PLAN_TYPE = "SageMaker"
SERVICE_CODE = "AmazonSageMaker"
PAGE_SIZE = 1000  # the API's maximum for maxResults
# Pages followed before giving up: one instance type in one region has a handful of offerings.
MAX_PAGES = 20
SECONDS_PER_YEAR = 365 * 24 * 3600
PAYMENTS: dict[str, SavingsPlanPayment] = {
    "No Upfront": "no-upfront",
    "Partial Upfront": "partial-upfront",
    "All Upfront": "all-upfront",
}

_cache: MutableMapping[tuple[str, str, str], dict[tuple[SavingsPlanTerm, SavingsPlanPayment], float]] = {}


class SavingsPlansError(Exception):
    """The Savings Plans API could not be used; the message names the failure in one line."""


@dataclass(frozen=True)
class OfferingRate:
    """One plan's hourly rate for one instance type in one region, as the API answered."""

    term_years: SavingsPlanTerm
    payment: SavingsPlanPayment
    usd_per_hour: float


def savings_plans_client(*, endpoint_url: str | None = None) -> Any:
    """A boto3 `savingsplans` client (a global API, signed for us-east-1), retrying throttling."""
    from infercost.data.clients import new_client

    return new_client("savingsplans", region="us-east-1", endpoint_url=endpoint_url)


def request(region: str, instance_type: str, next_token: str | None = None) -> dict[str, Any]:
    """The DescribeSavingsPlansOfferingRates parameters for one instance type in one region."""
    params: dict[str, Any] = {
        "savingsPlanTypes": [PLAN_TYPE],
        "products": [PLAN_TYPE],
        "serviceCodes": [SERVICE_CODE],
        "filters": [
            {"name": "region", "values": [region]},
            {"name": "instanceType", "values": [instance_type]},
        ],
        "maxResults": PAGE_SIZE,
    }
    if next_token:
        params["nextToken"] = next_token
    return params


def offering_rates(client: Any, region: str, instance_type: str) -> list[OfferingRate]:
    """Every SageMaker Savings Plan's hosting rate for `instance_type` in `region`, cached."""
    key = (str(client.meta.endpoint_url), region, instance_type)
    if key not in _cache:
        _cache[key] = _fetch(client, region, instance_type)
    return [
        OfferingRate(term_years=term, payment=payment, usd_per_hour=rate)
        for (term, payment), rate in sorted(_cache[key].items())
    ]


def clear_cache() -> None:
    """Forget cached answers (tests, or a long-lived process that wants fresh rates)."""
    _cache.clear()


def _fetch(
    client: Any, region: str, instance_type: str
) -> dict[tuple[SavingsPlanTerm, SavingsPlanPayment], float]:
    from botocore.exceptions import BotoCoreError, ClientError

    rates: dict[tuple[SavingsPlanTerm, SavingsPlanPayment], float] = {}
    token: str | None = None
    try:
        for _ in range(MAX_PAGES):
            page = client.describe_savings_plans_offering_rates(**request(region, instance_type, token))
            for result in page.get("searchResults", []):
                parsed = parse_result(result, instance_type)
                if parsed is not None:
                    rates[(parsed.term_years, parsed.payment)] = parsed.usd_per_hour
            token = page.get("nextToken")
            if not token:
                break
    except ClientError as error:
        details = error.response.get("Error", {})
        code = details.get("Code", "error")
        raise SavingsPlansError(
            f"DescribeSavingsPlansOfferingRates failed: {code}: {details.get('Message') or error}"
        ) from None
    except BotoCoreError as error:
        raise SavingsPlansError(f"DescribeSavingsPlansOfferingRates failed: {error}") from None
    return rates


def parse_result(result: dict[str, Any], instance_type: str) -> OfferingRate | None:
    """One search result as a hosting rate of `instance_type`; None for another component's usage."""
    usage = str(result.get("usageType", ""))
    if not usage.endswith(f"Host:{instance_type}") or result.get("unit") != "Hrs":
        return None
    offering = result.get("savingsPlanOffering") or {}
    if offering.get("currency", "USD") != "USD":
        return None
    payment = PAYMENTS.get(str(offering.get("paymentOption")))
    years = round(int(offering.get("durationSeconds") or 0) / SECONDS_PER_YEAR)
    if payment is None or years not in (1, 3):
        raise SavingsPlansError(
            f"DescribeSavingsPlansOfferingRates returned an offering infercost does not know: "
            f"{offering.get('paymentOption')!r}, {offering.get('durationSeconds')!r} s"
        )
    try:
        rate = float(result["rate"])
    except (KeyError, TypeError, ValueError):
        raise SavingsPlansError(
            f"DescribeSavingsPlansOfferingRates returned a rate that is not a number: {result.get('rate')!r}"
        ) from None
    if rate <= 0:
        return None
    term: SavingsPlanTerm = 1 if years == 1 else 3
    return OfferingRate(term_years=term, payment=payment, usd_per_hour=rate)
