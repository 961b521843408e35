"""The price book: overrides, then the live Price List API, then the bundled snapshot."""

from __future__ import annotations

import difflib
import functools
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from infercost.data.pricing.overrides import Overrides, RegionOverrides, load_overrides
from infercost.data.pricing.snapshot import Kind, Snapshot, SnapshotPrice, load_snapshot
from infercost.domain.errors import InputError, MissingPriceError, UnknownNameError
from infercost.domain.models import Candidate
from infercost.domain.prices import (
    Price,
    PriceBasis,
    PriceSource,
    SavingsPlanPayment,
    SavingsPlanRate,
    ServerlessRates,
    weakest_basis,
)

RowKind = Literal["instance", "accelerator", "serverless"]
_KIND_WORDS: dict[Kind, str] = {"instance": "instance type", "accelerator": "accelerator"}
_FIELDS: dict[Kind, str] = {"instance": "instance_type", "accelerator": "accelerator_type"}
_KINDS: tuple[Kind, Kind] = ("instance", "accelerator")
_PAYMENTS: dict[str, SavingsPlanPayment] = {
    "no-upfront": "no-upfront",
    "partial-upfront": "partial-upfront",
    "all-upfront": "all-upfront",
}


class PriceWarning(UserWarning):
    """A price came from a weaker source than asked for (e.g. the live API failed)."""


@dataclass(frozen=True)
class PriceRow:
    """One line of `infercost prices`: a name, its price per `unit`, and its source."""

    kind: RowKind
    name: str
    usd_per_hour: float | None
    source: str
    as_of: str | None
    usd: float
    unit: str
    origin: PriceSource
    basis: PriceBasis
    discount_percent: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class PriceBook:
    """Prices in one region: overrides, then the live Price List API, then the snapshot."""

    def __init__(
        self,
        region: str,
        *,
        overrides: Overrides | None = None,
        live: bool = False,
        pricing_client: Any = None,
        snapshot: Snapshot | None = None,
        savings_plans_client: Any = None,
    ):
        self.region = region
        self.live = live
        self.warnings: list[str] = []
        self._overrides = overrides
        self._local: RegionOverrides = overrides.for_region(region) if overrides else RegionOverrides()
        self._client = pricing_client
        self._snapshot = snapshot
        self._live_failed = False
        # Why the Price List API did not answer, when it did not (then the snapshot priced).
        self.live_failure: str | None = None
        # Every hosting price of the region, once rows() has asked the API for all of them.
        self._live_all: dict[str, Any] | None = None
        self._live_missing: set[str] = set()
        self._plans_client = savings_plans_client
        # Why the Savings Plans API did not answer, when it did not (then the snapshot's discounts).
        self.savings_plans_failure: str | None = None

    @classmethod
    def load(
        cls,
        region: str,
        *,
        overrides: Path | str | Mapping[str, Any] | None = None,
        live: bool = False,
        pricing_client: Any = None,
    ) -> PriceBook:
        """A price book for `region`; an unknown region or a bad overrides file is an InputError."""
        check_region(region)
        return cls(region, overrides=load_overrides(overrides), live=live, pricing_client=pricing_client)

    # -- what the cost engine asks

    def candidate_price(self, candidate: Candidate) -> Price:
        """Hourly price of one instance of an instance candidate, its accelerator added."""
        if candidate.instance_type is None:
            raise InputError("a serverless candidate has no hourly price; serverless rates cost it")
        instance = self._located("instance", candidate.instance_type)
        if candidate.accelerator_type is None:
            return instance
        accelerator = self._located("accelerator", candidate.accelerator_type)
        parts = [instance, accelerator]
        dates = [part.as_of for part in parts if part.as_of]
        mixed = instance.source != accelerator.source
        return Price(
            usd_per_hour=instance.usd_per_hour + accelerator.usd_per_hour,
            source=instance.source,
            as_of=min(dates) if dates else None,
            discount_percent=max(part.discount_percent for part in parts),
            basis=weakest_basis(part.basis or "derived" for part in parts),
            detail=(
                f"{candidate.instance_type} {instance.source} + "
                f"{candidate.accelerator_type} {accelerator.source}"
                if mixed
                else None
            ),
        )

    def _located(self, kind: Kind, name: str) -> Price:
        """A candidate's price; an error names the candidate field at fault."""
        try:
            return self._price(kind, name)
        except InputError as error:
            raise type(error)(error.message, field=_FIELDS[kind], hint=error.hint) from None

    def instance_price(self, instance_type: str) -> Price:
        return self._price("instance", instance_type)

    def accelerator_price(self, accelerator_type: str) -> Price:
        return self._price("accelerator", accelerator_type)

    def serverless_rates(self) -> ServerlessRates:
        """Serverless compute (per GB-second of memory) and data (per GB) rates in this region."""
        local = self._local
        bundled = self._snapshot_data().regions.get(self.region)
        listed = bundled.serverless if bundled else None
        if listed is None and (local.compute_usd_per_gb_second is None or local.data_usd_per_gb is None):
            raise MissingPriceError(
                f"no serverless rates for {self.region}",
                hint=f"bundled for {', '.join(self._regions_with_serverless())}; "
                "give serverless rates in a price overrides file",
            )
        factor = 1 - local.discount_percent / 100
        compute = local.compute_usd_per_gb_second
        data = local.data_usd_per_gb
        from_list = compute is None or data is None
        if listed is not None:
            compute = compute if compute is not None else listed.compute_usd_per_gb_second * factor
            data = data if data is not None else listed.data_usd_per_gb * factor
        assert compute is not None and data is not None
        return ServerlessRates(
            compute_usd_per_gb_second=compute,
            data_usd_per_gb=data,
            source="snapshot" if from_list else "override",
            as_of=listed.as_of if (from_list and listed) else None,
            discount_percent=local.discount_percent if from_list else 0.0,
            basis=listed.basis if (from_list and listed) else "override",
        )

    def check_candidate(self, candidate: Candidate) -> None:
        """Refuse a candidate whose instance or accelerator is unknown or unpriced."""
        if candidate.serverless is not None:
            try:
                self.serverless_rates()
            except InputError as error:
                raise type(error)(error.message, field="serverless", hint=error.hint) from None
            return
        for kind, name in zip(_KINDS, (candidate.instance_type, candidate.accelerator_type), strict=True):
            if name is not None:
                self._located(kind, name)

    # -- SageMaker Savings Plans

    def savings_plan_rates(self, candidate: Candidate) -> tuple[SavingsPlanRate, ...]:
        """Every SageMaker Savings Plan's hourly rate for one instance of `candidate`; () when none
        is known, for a serverless candidate, one with an accelerator, or a price you gave.

        Live: the Savings Plans API's rates. Otherwise (or when it does not answer): the on-demand
        list price × (1 − the snapshot's discount for the family), as weak as the weaker of the two.
        """
        if candidate.instance_type is None or candidate.accelerator_type is not None:
            return ()
        on_demand = self._located("instance", candidate.instance_type)
        if on_demand.source == "override":
            return ()  # a price you give is what you pay: no plan discounts it further
        if self.live:
            live = self._live_plan_rates(candidate.instance_type)
            if live:
                return live
        # The plan discounts the list price, not a price an overrides discount already lowered.
        list_usd = on_demand.usd_per_hour / (1 - on_demand.discount_percent / 100)
        discounts = self._snapshot_data().savings_plans.get(_family(candidate.instance_type), ())
        return tuple(
            SavingsPlanRate(
                term_years=1 if plan.term_years == 1 else 3,
                payment=_PAYMENTS[plan.payment],
                usd_per_hour=list_usd * (1 - plan.discount_percent / 100),
                source="snapshot",
                as_of=plan.as_of,
                basis=weakest_basis([on_demand.basis or "derived", plan.basis]),
            )
            for plan in discounts
        )

    @property
    def savings_plans_note(self) -> str | None:
        """What an output says when live Savings Plans rates were asked for and the snapshot answered."""
        if self.savings_plans_failure is None:
            return None
        return (
            f"Savings Plans rates from the snapshot's discounts: the Savings Plans API did not answer "
            f"({self.savings_plans_failure})"
        )

    def _live_plan_rates(self, instance_type: str) -> tuple[SavingsPlanRate, ...]:
        from infercost.data.pricing import savings_plans

        if self.savings_plans_failure is not None:
            return ()
        try:
            if self._plans_client is None:
                self._plans_client = savings_plans.savings_plans_client()
            rates = savings_plans.offering_rates(self._plans_client, self.region, instance_type)
        except savings_plans.SavingsPlansError as error:
            self.savings_plans_failure = str(error)
            self._warn(self.savings_plans_note or str(error))
            return ()
        if not rates:
            self._warn(
                f"the Savings Plans API has no {self.region} rates for {instance_type}; "
                "using the snapshot's discounts"
            )
        today = datetime.now(UTC).date().isoformat()
        return tuple(
            SavingsPlanRate(
                term_years=rate.term_years,
                payment=rate.payment,
                usd_per_hour=rate.usd_per_hour,
                source="live",
                as_of=today,
                basis="live",
            )
            for rate in rates
        )

    # -- the `infercost prices` table

    def rows(self, family: str | None = None) -> list[PriceRow]:
        """Every price here, or one family's (g5, c7g, eia2, serverless), cheapest first."""
        snapshot = self._snapshot_data()
        bundled = snapshot.regions.get(self.region)
        names: dict[Kind, set[str]] = {}
        live_table: dict[str, Any] = self._live_table() if self.live else {}
        for kind in _KINDS:
            known = set(bundled.section(kind)) if bundled else set()
            known |= set(self._local.instances if kind == "instance" else self._local.accelerators)
            known |= {name for name in live_table if _kind_of(name) == kind}
            names[kind] = known
        families = {_family(name) for known in names.values() for name in known} | {"serverless"}
        if family is not None and family not in families:
            raise UnknownNameError(
                f"unknown family {family!r} in {self.region}",
                field="--family",
                hint=_suggest(family, families),
            )
        rows: list[PriceRow] = []
        for kind in _KINDS:
            for name in names[kind]:
                if family is None or _family(name) == family:
                    rows.append(self._row(kind, name, self._price(kind, name)))
        if self._live_missing:
            missing = sorted(self._live_missing)
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            self._warn(
                f"the Price List has no {self.region} price for {', '.join(missing[:3])}{more}; "
                "using the snapshot for those"
            )
        has_serverless = (bundled is not None and bundled.serverless is not None) or (
            self._local.compute_usd_per_gb_second is not None
        )
        if family in (None, "serverless") and has_serverless:
            rows.extend(self._serverless_rows())
        order = {"instance": 0, "accelerator": 1, "serverless": 2}
        return sorted(rows, key=lambda row: (order[row.kind], _family(row.name), row.usd, row.name))

    @property
    def snapshot_as_of(self) -> str:
        """The date the bundled snapshot was compiled."""
        return self._snapshot_data().as_of

    def _price(self, kind: Kind, name: str) -> Price:
        override = self._local.price(kind, name)
        if override is not None:
            origin = self._overrides.origin if self._overrides else "overrides"
            return Price(
                usd_per_hour=override, source="override", as_of=None, detail=origin, basis="override"
            )
        self._check_name(kind, name)
        factor = 1 - self._local.discount_percent / 100
        if self.live:
            live = self._live_price(kind, name)
            if live is not None:
                return Price(
                    usd_per_hour=live.usd_per_hour * factor,
                    source="live",
                    as_of=live.as_of,
                    discount_percent=self._local.discount_percent,
                    basis="live",
                )
        listed = self._snapshot_price(kind, name)
        return Price(
            usd_per_hour=listed.usd * factor,
            source="snapshot",
            as_of=listed.as_of,
            discount_percent=self._local.discount_percent,
            basis=listed.basis,
        )

    def _snapshot_price(self, kind: Kind, name: str) -> SnapshotPrice:
        snapshot = self._snapshot_data()
        bundled = snapshot.regions.get(self.region)
        if bundled is not None and name in bundled.section(kind):
            return bundled.section(kind)[name]
        elsewhere = snapshot.regions_with(kind, name)
        where = f"bundled for {', '.join(elsewhere)}" if elsewhere else "no bundled price in any region"
        raise MissingPriceError(
            f"no price for {_KIND_WORDS[kind]} {name} in {self.region}",
            hint=f"{where}; give it in a price overrides file"
            + ("" if self.live else " or use the live Price List"),
        )

    def _check_name(self, kind: Kind, name: str) -> None:
        snapshot = self._snapshot_data()
        if name in snapshot.names(kind) or name in sagemaker_names(kind):
            return
        other: Kind = "accelerator" if kind == "instance" else "instance"
        if name in snapshot.names(other) or name in sagemaker_names(other):
            what = "an Elastic Inference accelerator" if other == "accelerator" else "an instance type"
            hint: str | None = f"{name} is {what}; give it as {_FIELDS[other]}"
        else:
            hint = _suggest(name, snapshot.names(kind) | sagemaker_names(kind))
        raise UnknownNameError(f"unknown {_KIND_WORDS[kind]} {name!r} in {self.region}", hint=hint)

    def _live_price(self, kind: Kind, name: str) -> Any:
        from infercost.data.pricing import live

        if self._live_failed:
            return None
        if self._live_all is not None:
            table = self._live_all
        else:
            try:
                table = live.hosting_prices(self._pricing_client(), self.region, instance_name=name)
            except live.LivePriceError as error:
                self._unavailable(error)
                return None
        if name not in table:
            if self._live_all is None:
                self._warn(f"the Price List has no {self.region} price for {name}; using the snapshot")
            else:
                self._live_missing.add(name)
        return table.get(name)

    def _live_table(self) -> dict[str, Any]:
        from infercost.data.pricing import live

        try:
            self._live_all = live.hosting_prices(self._pricing_client(), self.region)
        except live.LivePriceError as error:
            self._unavailable(error)
            return {}
        return self._live_all

    @property
    def fallback_note(self) -> str | None:
        """What a run that asked for live prices says when it priced from the snapshot instead."""
        if self.live_failure is None:
            return None
        return fallback_note(self.snapshot_as_of, self.live_failure)

    def _unavailable(self, error: Exception) -> None:
        self.live_failure = str(error)
        self._warn(self.fallback_note or str(error))
        self._live_failed = True

    def _pricing_client(self) -> Any:
        if self._client is None:
            from infercost.data.pricing.live import pricing_client

            self._client = pricing_client()
        return self._client

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            warnings.warn(message, PriceWarning, stacklevel=3)

    def _snapshot_data(self) -> Snapshot:
        if self._snapshot is None:
            self._snapshot = load_snapshot()
        return self._snapshot

    def _regions_with_serverless(self) -> list[str]:
        return sorted(region for region, prices in self._snapshot_data().regions.items() if prices.serverless)

    # -- rows

    def _row(self, kind: Kind, name: str, price: Price) -> PriceRow:
        source = f"override ({price.detail})"
        if price.source == "live":
            source = "live Price List API"
        elif price.source == "snapshot":
            listed = self._snapshot_price(kind, name)
            if listed.method:
                source = f"snapshot: derived from {listed.source} ({listed.method})"
            else:
                source = f"snapshot: {listed.source} ({listed.basis})"
        if price.discount_percent:
            source += f", {price.discount_percent:g}% off"
        return PriceRow(
            kind=kind,
            name=name,
            usd_per_hour=price.usd_per_hour,
            source=source,
            as_of=price.as_of,
            usd=price.usd_per_hour,
            unit="hour",
            origin=price.source,
            basis=price.basis or "override",
            discount_percent=price.discount_percent,
        )

    def _serverless_rows(self) -> list[PriceRow]:
        rates = self.serverless_rates()
        basis: PriceBasis = rates.basis or "override"
        source = f"snapshot: {basis}" if rates.source == "snapshot" else "override"
        if rates.discount_percent:
            source += f", {rates.discount_percent:g}% off"
        return [
            PriceRow(
                kind="serverless",
                name=name,
                usd_per_hour=None,
                source=source,
                as_of=rates.as_of,
                usd=usd,
                unit=unit,
                origin=rates.source,
                basis=basis,
                discount_percent=rates.discount_percent,
            )
            for name, usd, unit in (
                ("serverless compute", rates.compute_usd_per_gb_second, "GB-second"),
                ("serverless data processed", rates.data_usd_per_gb, "GB"),
            )
        ]


def fallback_note(snapshot_as_of: str, reason: str) -> str:
    """The sentence every output shows when live prices were asked for and the snapshot answered."""
    return f"prices from the snapshot of {snapshot_as_of}: the Price List API did not answer ({reason})"


def check_region(region: str) -> None:
    """Refuse a region code that AWS does not have (a typo), suggesting close ones."""
    if region in load_snapshot().regions or region in aws_regions():
        return
    raise UnknownNameError(
        f"unknown region {region!r}",
        field="region",
        hint=_suggest(region, set(load_snapshot().regions) | aws_regions()),
    )


@functools.cache
def sagemaker_names(kind: Kind) -> frozenset[str]:
    """Instance types / accelerators SageMaker hosting accepts, from botocore's service model."""
    import botocore.session

    shape = "ProductionVariantInstanceType" if kind == "instance" else "ProductionVariantAcceleratorType"
    model = botocore.session.get_session().get_service_model("sagemaker")
    return frozenset(model.shape_for(shape).enum)


@functools.cache
def aws_regions() -> frozenset[str]:
    """Regions where SageMaker has an endpoint, from botocore's endpoint data."""
    import botocore.session

    session = botocore.session.get_session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions |= set(session.get_available_regions("sagemaker", partition_name=partition))
    return frozenset(regions)


def _family(name: str) -> str:
    """'ml.g5.xlarge' -> 'g5'; a name without a family (the serverless rows) is its own."""
    parts = name.split(".")
    return parts[1] if len(parts) == 3 else name


def _kind_of(name: str) -> Kind:
    return "accelerator" if name.startswith("ml.eia") else "instance"


def _suggest(name: str, known: set[str] | frozenset[str]) -> str | None:
    close = difflib.get_close_matches(name, sorted(known), n=2, cutoff=0.6)
    return f"did you mean {', '.join(close)}?" if close else None
