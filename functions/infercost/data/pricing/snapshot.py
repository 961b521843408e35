"""The bundled price snapshot (snapshot.json): parsed on first use, cached, never at import."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from infercost.domain.price_basis import SNAPSHOT_BASES, PriceBasis

Kind = Literal["instance", "accelerator"]

SNAPSHOT_SCHEMA = "infercost.prices/v1"
# The part of the snapshot each kind of name lives in.
SECTIONS: dict[Kind, str] = {"instance": "instances", "accelerator": "accelerators"}


class SnapshotError(ValueError):
    """The snapshot file is malformed: a packaging bug, not a user error."""


@dataclass(frozen=True)
class SnapshotPrice:
    """One bundled price and where it came from."""

    usd: float
    source: str
    basis: PriceBasis
    as_of: str | None
    method: str | None = None


@dataclass(frozen=True)
class SnapshotServerless:
    compute_usd_per_gb_second: float
    data_usd_per_gb: float
    source: str
    basis: PriceBasis
    as_of: str | None


@dataclass(frozen=True)
class RegionPrices:
    instances: Mapping[str, SnapshotPrice]
    accelerators: Mapping[str, SnapshotPrice]
    serverless: SnapshotServerless | None

    def section(self, kind: Kind) -> Mapping[str, SnapshotPrice]:
        return self.instances if kind == "instance" else self.accelerators


@dataclass(frozen=True)
class SnapshotPlanDiscount:
    """A SageMaker Savings Plan's discount off the on-demand price for one family, and its source."""

    term_years: int
    payment: str
    discount_percent: float
    source: str
    basis: PriceBasis
    as_of: str | None
    method: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """The parsed snapshot: prices per region, with the sources and methods they cite."""

    as_of: str
    regions: Mapping[str, RegionPrices]
    sources: Mapping[str, Mapping[str, Any]]
    methods: Mapping[str, str]
    # Instance family ('g5') -> its Savings Plans discounts (any region: the plans are global).
    savings_plans: Mapping[str, tuple[SnapshotPlanDiscount, ...]] = field(default_factory=dict)

    def names(self, kind: Kind) -> set[str]:
        """Every name of this kind priced in at least one region."""
        return {name for prices in self.regions.values() for name in prices.section(kind)}

    def regions_with(self, kind: Kind, name: str) -> list[str]:
        """Regions whose bundled prices include this name."""
        return sorted(region for region, prices in self.regions.items() if name in prices.section(kind))


@functools.cache
def load_snapshot() -> Snapshot:
    """Read and parse the bundled snapshot.json once per process."""
    text = resources.files("infercost.data.pricing").joinpath("snapshot.json").read_text(encoding="utf-8")
    return parse_snapshot(json.loads(text))


def parse_snapshot(data: Any) -> Snapshot:
    """Check and convert the snapshot JSON: every price is a number > 0 naming its source."""
    if not isinstance(data, dict) or data.get("schema") != SNAPSHOT_SCHEMA:
        raise SnapshotError(f"schema must be {SNAPSHOT_SCHEMA!r}")
    as_of = _text(data.get("as_of"), "as_of")
    sources = data.get("sources")
    if not isinstance(sources, dict) or not sources:
        raise SnapshotError("sources: must name at least one source")
    methods = data.get("methods") or {}
    regions_data = data.get("regions")
    if not isinstance(regions_data, dict) or not regions_data:
        raise SnapshotError("regions: must contain at least one region")

    def source_as_of(source: str) -> str | None:
        # A value derived from another region's entry carries the snapshot's own date.
        entry = sources.get(source)
        date = entry.get("as_of") if isinstance(entry, dict) else None
        return str(date) if date else as_of

    def price(entry: Any, where: str) -> SnapshotPrice:
        if not isinstance(entry, dict):
            raise SnapshotError(f"{where}: must be an object")
        usd = entry.get("usd_per_hour")
        source = _text(entry.get("source"), f"{where}.source")
        method = entry.get("method")
        basis = _basis(entry.get("basis"), method, where)
        _check_provenance(source, method, sources, regions_data, methods, where)
        return SnapshotPrice(
            usd=_positive(usd, f"{where}.usd_per_hour"),
            source=source,
            basis=basis,
            as_of=source_as_of(source),
            method=method,
        )

    regions: dict[str, RegionPrices] = {}
    for region, body in regions_data.items():
        if not isinstance(body, dict):
            raise SnapshotError(f"regions.{region}: must be an object")
        sections = {}
        for kind, key in SECTIONS.items():
            section = body.get(key, {})
            if not isinstance(section, dict):
                raise SnapshotError(f"regions.{region}.{key}: must be an object")
            sections[kind] = {
                name: price(entry, f"regions.{region}.{key}.{name}") for name, entry in section.items()
            }
        serverless = None
        if body.get("serverless") is not None:
            where = f"regions.{region}.serverless"
            entry = body["serverless"]
            source = _text(entry.get("source"), f"{where}.source")
            basis = _basis(entry.get("basis"), entry.get("method"), where)
            _check_provenance(source, entry.get("method"), sources, regions_data, methods, where)
            serverless = SnapshotServerless(
                compute_usd_per_gb_second=_positive(
                    entry.get("compute_usd_per_gb_second"), f"{where}.compute"
                ),
                data_usd_per_gb=_positive(entry.get("data_usd_per_gb"), f"{where}.data"),
                source=source,
                basis=basis,
                as_of=source_as_of(source),
            )
        regions[region] = RegionPrices(sections["instance"], sections["accelerator"], serverless)
    plans = _savings_plans(data.get("savings_plans"), sources, methods, source_as_of)
    return Snapshot(as_of=as_of, regions=regions, sources=sources, methods=methods, savings_plans=plans)


# '<years>y-<payment>': the plan a discount belongs to.
PLAN_KEY = re.compile(r"^(1|3)y-(no-upfront|partial-upfront|all-upfront)$")


def _savings_plans(
    section: Any, sources: Mapping[str, Any], methods: Mapping[str, Any], source_as_of: Any
) -> dict[str, tuple[SnapshotPlanDiscount, ...]]:
    """Each family's plan discounts: a percent in [0, 100) with its source, basis and method."""
    if section is None:
        return {}
    families = section.get("families") if isinstance(section, dict) else None
    if not isinstance(families, dict):
        raise SnapshotError("savings_plans.families: must be an object")
    parsed: dict[str, tuple[SnapshotPlanDiscount, ...]] = {}
    for family, plans in families.items():
        if not isinstance(plans, dict):
            raise SnapshotError(f"savings_plans.families.{family}: must be an object")
        discounts = []
        for key, entry in plans.items():
            where = f"savings_plans.families.{family}.{key}"
            match = PLAN_KEY.match(key)
            if match is None:
                raise SnapshotError(f"{where}: a plan is named like 1y-no-upfront or 3y-all-upfront")
            if not isinstance(entry, dict):
                raise SnapshotError(f"{where}: must be an object")
            percent = entry.get("discount_percent")
            if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent < 100:
                raise SnapshotError(f"{where}.discount_percent: must be a number from 0 to below 100")
            source = _text(entry.get("source"), f"{where}.source")
            if source not in sources:
                raise SnapshotError(f"{where}.source: {source!r} is not a listed source")
            method = entry.get("method")
            basis = _basis(entry.get("basis"), method, where)
            if method is not None and method not in methods:
                raise SnapshotError(f"{where}.method: a derived discount must name one of the listed methods")
            discounts.append(
                SnapshotPlanDiscount(
                    term_years=int(match.group(1)),
                    payment=match.group(2),
                    discount_percent=float(percent),
                    source=source,
                    basis=basis,
                    as_of=source_as_of(source),
                    method=method,
                )
            )
        parsed[family] = tuple(discounts)
    return parsed


def _check_provenance(
    source: str,
    method: Any,
    sources: Mapping[str, Any],
    regions: Mapping[str, Any],
    methods: Mapping[str, Any],
    where: str,
) -> None:
    if source not in sources and source not in regions:
        raise SnapshotError(f"{where}.source: {source!r} is neither a listed source nor a region")
    if source in regions and method not in methods:
        raise SnapshotError(f"{where}.method: a derived price must name one of the listed methods")


def _basis(value: Any, method: Any, where: str) -> PriceBasis:
    """published, corroborated or derived; a derived price names its method, no other does."""
    basis = _text(value, f"{where}.basis")
    if basis not in SNAPSHOT_BASES:
        raise SnapshotError(f"{where}.basis: must be one of {', '.join(SNAPSHOT_BASES)}, got {basis!r}")
    if (basis == "derived") != (method is not None):
        raise SnapshotError(
            f"{where}.method: a derived price names its method; a {basis} one has none"
            if basis != "derived"
            else f"{where}.method: a derived price must name one of the listed methods"
        )
    return basis


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise SnapshotError(f"{where}: must be a non-empty string")
    return value


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise SnapshotError(f"{where}: must be a number > 0")
    return float(value)
