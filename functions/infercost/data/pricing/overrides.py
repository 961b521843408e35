"""User price overrides: per-type prices and a discount on list prices, from a file or a dict.

Shape (every key optional):

    {
      "discount_percent": 17,
      "instances": {"ml.g5.xlarge": 1.05},
      "accelerators": {"ml.eia2.medium": 0.12},
      "serverless": {"compute_usd_per_gb_second": 0.0000166, "data_usd_per_gb": 0.016},
      "regions": {"eu-west-1": {"instances": {"ml.g5.xlarge": 1.17}, "discount_percent": 10}},
      "note": "free text, ignored"
    }

A price given here is what you pay: the discount applies only to list prices (live or snapshot).
A section under "regions" applies in that region and wins over the top level.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infercost.domain.errors import InputError
from infercost.domain.models import ACCELERATOR_TYPE_PATTERN, INSTANCE_TYPE_PATTERN, load_json_file

_SECTION_KEYS = ("discount_percent", "instances", "accelerators", "serverless", "note")
_SERVERLESS_KEYS = ("compute_usd_per_gb_second", "data_usd_per_gb")


@dataclass(frozen=True)
class RegionOverrides:
    """Overrides that apply in one region (already merged with the top level)."""

    instances: Mapping[str, float] = field(default_factory=dict)
    accelerators: Mapping[str, float] = field(default_factory=dict)
    compute_usd_per_gb_second: float | None = None
    data_usd_per_gb: float | None = None
    discount_percent: float = 0.0

    def price(self, kind: str, name: str) -> float | None:
        table = self.instances if kind == "instance" else self.accelerators
        return table.get(name)


@dataclass(frozen=True)
class Overrides:
    """Parsed overrides: a top-level section and optional per-region sections."""

    origin: str
    default: Mapping[str, Any]
    regions: Mapping[str, Mapping[str, Any]]

    def for_region(self, region: str) -> RegionOverrides:
        specific = self.regions.get(region, {})
        merged: dict[str, Any] = {}
        for key in ("instances", "accelerators", "serverless"):
            merged[key] = {**self.default.get(key, {}), **specific.get(key, {})}
        discount = specific.get("discount_percent", self.default.get("discount_percent", 0.0))
        return RegionOverrides(
            instances=merged["instances"],
            accelerators=merged["accelerators"],
            compute_usd_per_gb_second=merged["serverless"].get("compute_usd_per_gb_second"),
            data_usd_per_gb=merged["serverless"].get("data_usd_per_gb"),
            discount_percent=float(discount),
        )


def load_overrides(value: Path | str | Mapping[str, Any] | None) -> Overrides | None:
    """Read overrides from a JSON file path or take a parsed dict; None means no overrides."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return parse_overrides(value, origin="overrides")
    path = Path(value)
    return parse_overrides(load_json_file(path), origin=path.name)


def parse_overrides(data: Any, *, origin: str) -> Overrides:
    """Validate the shape; a bad value is an InputError naming its field, e.g. instances.<name>."""
    if not isinstance(data, Mapping):
        raise InputError("a price overrides file must be a JSON object", field=origin)
    allowed = (*_SECTION_KEYS, "regions")
    _no_unknown_keys(data, allowed, prefix="")
    default = _section(data, prefix="")
    regions: dict[str, Mapping[str, Any]] = {}
    raw_regions = data.get("regions", {})
    if not isinstance(raw_regions, Mapping):
        raise InputError("must be an object of region -> overrides", field="regions")
    for region, body in raw_regions.items():
        prefix = f"regions.{region}."
        if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", str(region)):
            raise InputError("is not an AWS region code such as eu-west-1", field=f"regions.{region}")
        if not isinstance(body, Mapping):
            raise InputError("must be an object", field=f"regions.{region}")
        _no_unknown_keys(body, _SECTION_KEYS, prefix=prefix)
        regions[str(region)] = _section(body, prefix=prefix)
    return Overrides(origin=origin, default=default, regions=regions)


def _section(data: Mapping[str, Any], *, prefix: str) -> dict[str, Any]:
    section: dict[str, Any] = {}
    if "discount_percent" in data:
        discount = _number(
            data["discount_percent"], f"{prefix}discount_percent", "a number from 0 to below 100"
        )
        if not 0 <= discount < 100:
            raise InputError("must be a number from 0 to below 100", field=f"{prefix}discount_percent")
        section["discount_percent"] = discount
    for key, pattern, example in (
        ("instances", INSTANCE_TYPE_PATTERN, "ml.g5.xlarge"),
        ("accelerators", ACCELERATOR_TYPE_PATTERN, "ml.eia2.medium"),
    ):
        table = data.get(key, {})
        if not isinstance(table, Mapping):
            raise InputError(
                f"must be an object of name -> USD per hour, e.g. {{{example!r}: 1.2}}",
                field=prefix + key,
            )
        prices = {}
        for name, usd in table.items():
            if not re.fullmatch(pattern, str(name)):
                raise InputError(f"{name!r} is not a name like {example}", field=f"{prefix}{key}")
            prices[str(name)] = _number(usd, f"{prefix}{key}.{name}", "a number ≥ 0")
        section[key] = prices
    serverless = data.get("serverless", {})
    if not isinstance(serverless, Mapping):
        raise InputError(
            "must be an object with compute_usd_per_gb_second and/or data_usd_per_gb",
            field=f"{prefix}serverless",
        )
    _no_unknown_keys(serverless, _SERVERLESS_KEYS, prefix=f"{prefix}serverless.")
    section["serverless"] = {
        key: _number(value, f"{prefix}serverless.{key}", "a number ≥ 0") for key, value in serverless.items()
    }
    return section


def _number(value: Any, where: str, valid: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != value:
        raise InputError(f"must be {valid}, got {value!r}", field=where)
    return float(value)


def _no_unknown_keys(data: Mapping[str, Any], allowed: tuple[str, ...], *, prefix: str) -> None:
    for key in data:
        if key not in allowed:
            raise InputError(
                f"unknown key {key!r}",
                field=f"{prefix}{key}",
                hint=f"expected one of {', '.join(allowed)}",
            )
