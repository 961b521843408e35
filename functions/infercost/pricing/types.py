"""Price values and where they came from; shared by the price book and the cost formulas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from infercost.models import Candidate

PriceSource = Literal["results", "override", "live", "snapshot"]


@dataclass(frozen=True)
class Price:
    """An hourly on-demand price in USD for one instance (including an attached accelerator)."""

    usd_per_hour: float
    source: PriceSource
    as_of: str | None = None


@dataclass(frozen=True)
class ServerlessRates:
    """SageMaker Serverless Inference rates: compute per GB-second of memory, and data processed per GB."""

    compute_usd_per_gb_second: float
    data_usd_per_gb: float
    source: PriceSource
    as_of: str | None = None


class PriceLookup(Protocol):
    """What the cost engine needs from a price book."""

    region: str

    def candidate_price(self, candidate: Candidate) -> Price:
        """Hourly price of one instance of an instance candidate, accelerator included."""
        ...

    def serverless_rates(self) -> ServerlessRates:
        """Serverless compute and data rates in this region."""
        ...
