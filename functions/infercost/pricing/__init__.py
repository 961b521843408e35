"""Prices of SageMaker hosting: user overrides, then the live Price List API, then a snapshot."""

from infercost.pricing.book import PriceBook, PriceRow, PriceWarning
from infercost.pricing.types import Price, PriceLookup, PriceSource, ServerlessRates

__all__ = [
    "Price",
    "PriceBook",
    "PriceLookup",
    "PriceRow",
    "PriceSource",
    "PriceWarning",
    "ServerlessRates",
]
