"""Where a price came from and how far it can be trusted: a leaf module every layer may import."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

PriceSource = Literal["results", "override", "live", "snapshot"]

# How far a price can be trusted, whatever gave it (docs/pricing.md, "Price basis"):
#   live          the AWS Price List API answered it for this run;
#   published     a snapshot entry taken from an AWS-authored figure;
#   corroborated  a snapshot entry from third-party copies of AWS figures that agree;
#   derived       a snapshot entry computed from another region's or family's price: an estimate;
#   override      a price the user gave (--prices, INFERCOST_PRICE_OVERRIDES);
#   results       a price written in the results file by whoever made it.
PriceBasis = Literal["live", "published", "corroborated", "derived", "override", "results"]
PRICE_BASES: tuple[PriceBasis, ...] = ("live", "published", "corroborated", "derived", "override", "results")
# The bases a snapshot entry may have.
SNAPSHOT_BASES: tuple[PriceBasis, ...] = ("published", "corroborated", "derived")
# What every output marks as an estimate.
ESTIMATE_BASES: frozenset[PriceBasis] = frozenset({"derived"})
# A price made of parts (an instance and its accelerator) is as weak as its weakest part.
_WEAKEST_FIRST: tuple[PriceBasis, ...] = (
    "derived",
    "corroborated",
    "published",
    "results",
    "live",
    "override",
)


def is_estimate(basis: str | None) -> bool:
    """True for a price computed from other prices rather than published for this type and region."""
    return basis in ESTIMATE_BASES


def weakest_basis(bases: Iterable[PriceBasis]) -> PriceBasis:
    """The least trustworthy of several bases: a sum with one derived part is derived."""
    return min(bases, key=_WEAKEST_FIRST.index)


def basis_of_source(source: str | None) -> PriceBasis | None:
    """The basis a price source implies on its own (None for a snapshot price, whose entry says)."""
    if source in (None, "results"):
        return "results"
    if source == "live":
        return "live"
    if source == "override":
        return "override"
    return None
