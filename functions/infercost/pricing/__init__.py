"""Prices of SageMaker hosting: user overrides, then the live Price List API, then a snapshot.

The price book loads on first use: every Lambda handler names the price types, only Prepare and
Recommend look prices up, and the book's modules were a tenth of the others' import time.
"""

from typing import TYPE_CHECKING, Any

from infercost.pricing.types import Price, PriceLookup, PriceSource, ServerlessRates

if TYPE_CHECKING:
    from infercost.pricing.book import PriceBook, PriceRow, PriceWarning

_FROM_BOOK = frozenset({"PriceBook", "PriceRow", "PriceWarning"})

__all__ = [
    "Price",
    "PriceBook",
    "PriceLookup",
    "PriceRow",
    "PriceSource",
    "PriceWarning",
    "ServerlessRates",
]


def __getattr__(name: str) -> Any:
    if name in _FROM_BOOK:
        from infercost.pricing import book

        return getattr(book, name)
    raise AttributeError(f"module 'infercost.pricing' has no attribute {name!r}")
