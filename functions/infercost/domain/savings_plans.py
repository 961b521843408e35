"""SageMaker Savings Plans arithmetic: what a plan saves and when it pays (docs/pricing.md, "Savings Plans").

A plan commits to an hourly spend for its whole term, whether the instance runs or not; in return
each hour of the instance costs the plan's rate instead of the on-demand price.
"""

from __future__ import annotations

from infercost.domain.prices import SavingsPlanRate

PAYMENT_WORDS = {
    "no-upfront": "no upfront",
    "partial-upfront": "partial upfront",
    "all-upfront": "all upfront",
}


def plan_label(rate: SavingsPlanRate) -> str:
    """'1-year no upfront', '3-year all upfront'."""
    return f"{rate.term_years}-year {PAYMENT_WORDS[rate.payment]}"


def discount_percent(plan_usd_per_hour: float, on_demand_usd_per_hour: float) -> float:
    """How much cheaper an hour is under the plan than on demand, in percent."""
    _check(plan_usd_per_hour, on_demand_usd_per_hour)
    return (1 - plan_usd_per_hour / on_demand_usd_per_hour) * 100


def break_even_utilisation(plan_usd_per_hour: float, on_demand_usd_per_hour: float) -> float:
    """The share of the term (0 to 1) an instance must run for the plan to cost no more than paying
    on demand for the hours it runs: plan rate ÷ on-demand rate.

    Running a fraction u of the term costs u × on-demand without a plan and the plan rate every
    hour with one; they are equal at u = plan ÷ on-demand. Above it the plan is cheaper.
    """
    _check(plan_usd_per_hour, on_demand_usd_per_hour)
    return plan_usd_per_hour / on_demand_usd_per_hour


def _check(plan_usd_per_hour: float, on_demand_usd_per_hour: float) -> None:
    if not on_demand_usd_per_hour > 0:
        raise ValueError(f"the on-demand rate must be > 0, got {on_demand_usd_per_hour!r}")
    if not 0 < plan_usd_per_hour <= on_demand_usd_per_hour:
        raise ValueError(
            f"a plan rate is > 0 and at most the on-demand rate ({on_demand_usd_per_hour:g}), "
            f"got {plan_usd_per_hour!r}"
        )
