"""Test helpers shared by unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from infercost.domain.errors import UnknownNameError
from infercost.domain.models import Candidate
from infercost.domain.prices import Price, PriceBasis, ServerlessRates


@dataclass
class TablePrices:
    """A PriceLookup over a fixed table: the protocol the price book implements."""

    hourly: dict[str, float] = field(default_factory=dict)
    region: str = "us-east-1"
    # The basis of each instance's snapshot entry (published unless named here).
    basis: dict[str, PriceBasis] = field(default_factory=dict)
    snapshot_as_of: str = "2026-11-01"

    def candidate_price(self, candidate: Candidate) -> Price:
        name = candidate.instance_type or ""
        if name not in self.hourly:
            raise UnknownNameError(f"unknown instance type {name!r} in {self.region}")
        usd = self.hourly[name] + (self.hourly.get(candidate.accelerator_type or "", 0.0))
        return Price(
            usd_per_hour=usd,
            source="snapshot",
            as_of=self.snapshot_as_of,
            basis=self.basis.get(name, "published"),
        )

    def serverless_rates(self) -> ServerlessRates:
        return ServerlessRates(
            compute_usd_per_gb_second=0.00002,
            data_usd_per_gb=0.016,
            source="snapshot",
            basis=self.basis.get("serverless", "corroborated"),
        )
