"""Price values and where they came from; shared by the price book and the cost formulas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from infercost.domain.models import Candidate
from infercost.domain.price_basis import (
    ESTIMATE_BASES,
    PRICE_BASES,
    SNAPSHOT_BASES,
    PriceBasis,
    PriceSource,
    basis_of_source,
    is_estimate,
    weakest_basis,
)

__all__ = [
    "ESTIMATE_BASES",
    "PRICE_BASES",
    "SNAPSHOT_BASES",
    "Price",
    "PriceBasis",
    "PriceLookup",
    "PriceSource",
    "SavingsPlanPayment",
    "SavingsPlanRate",
    "SavingsPlanTerm",
    "ServerlessRates",
    "basis_of_source",
    "is_estimate",
    "weakest_basis",
]


@dataclass(frozen=True)
class Price:
    """An hourly on-demand price in USD for one instance (including an attached accelerator)."""

    usd_per_hour: float
    source: PriceSource
    as_of: str | None = None
    # Percent off the list price (e.g. a Savings Plan); 0 for override prices, which are final.
    discount_percent: float = 0.0
    # Where each part came from when an instance and its accelerator have different sources.
    detail: str | None = None
    # How far the figure can be trusted; None only for a result that predates the field.
    basis: PriceBasis | None = None

    @property
    def estimate(self) -> bool:
        return is_estimate(self.basis)


@dataclass(frozen=True)
class ServerlessRates:
    """SageMaker Serverless Inference rates: compute per GB-second of memory, data per GB."""

    compute_usd_per_gb_second: float
    data_usd_per_gb: float
    source: PriceSource
    as_of: str | None = None
    discount_percent: float = 0.0
    basis: PriceBasis | None = None


SavingsPlanTerm = Literal[1, 3]
SavingsPlanPayment = Literal["no-upfront", "partial-upfront", "all-upfront"]


@dataclass(frozen=True)
class SavingsPlanRate:
    """A SageMaker Savings Plan's effective hourly rate for one instance type (docs/pricing.md).

    `usd_per_hour` is what an hour of the instance costs under the plan, upfront payment spread
    over the term; the commitment is per hour whether or not the instance runs.
    """

    term_years: SavingsPlanTerm
    payment: SavingsPlanPayment
    usd_per_hour: float
    source: PriceSource
    as_of: str | None = None
    basis: PriceBasis | None = None


class PriceLookup(Protocol):
    """What the cost engine needs from a price book."""

    region: str

    def candidate_price(self, candidate: Candidate) -> Price:
        """Hourly price of one instance of an instance candidate, accelerator included."""
        ...

    def serverless_rates(self) -> ServerlessRates:
        """Serverless compute and data rates in this region."""
        ...


class SavingsPlanLookup(Protocol):
    """A price book that also knows Savings Plan rates (the monthly objective uses them if given)."""

    def savings_plan_rates(self, candidate: Candidate) -> tuple[SavingsPlanRate, ...]:
        """Every plan's rate for one instance of `candidate`; () when none is known."""
        ...
