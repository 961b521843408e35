"""How infercost writes money, latencies, durations and changes, in every table, message and report.

One place, so that the CLI, the report, the notifications and the explanations agree.
"""

from __future__ import annotations

import math


def money(value: float | None) -> str:
    """Money rounded to cents, as every table shows it: '$1,028.13'; '—' when there is no figure."""
    if value is None:
        return "—"
    if value == float("inf"):
        return "∞"
    return f"${value:,.2f}"


def usd(value: float | None) -> str:
    """Money in prose and labels: cents, or four decimals below a cent ('$0.0035')."""
    if value is None:
        return "—"
    if math.isinf(value):
        return "∞"
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


def usd_precise(value: float) -> str:
    """Dollars with the decimals small amounts need: $0.38, $0.0412, $12.50."""
    if value == 0:
        return "$0.00"
    decimals = min(8, max(2, 2 - math.floor(math.log10(abs(value)))))
    text = f"{value:,.{decimals}f}"
    while decimals > 2 and text.endswith("0"):
        text, decimals = text[:-1], decimals - 1
    return f"${text}"


def unit_price(value: float) -> str:
    """A list price as published (not rounded to cents): $0.102, $1.408, $0.00002."""
    text = f"{value:,.7f}".rstrip("0")
    whole, _, decimals = text.partition(".")
    return f"${whole}.{decimals.ljust(2, '0')}"


def millis(value: float | None) -> str:
    """A latency in milliseconds, one decimal: '12.3'; '—' when there is none."""
    return "—" if value is None else f"{value:,.1f}"


def signed_percent(change: float | None) -> str:
    """A relative change as a signed percentage: 0.125 -> '+12.5 %'."""
    return f"{(change or 0) * 100:+.1f} %"


def percent(fraction: float) -> str:
    """A fraction as a percentage: 0.1 -> '10 %'."""
    return f"{fraction * 100:g} %"


def duration(seconds: float | None) -> str:
    """A duration to the second: '9 min 20 s', '1 h 05 min'; '—' when unknown."""
    if seconds is None:
        return "—"
    minutes_total, secs = divmod(round(seconds), 60)
    hours, mins = divmod(minutes_total, 60)
    return f"{hours} h {mins:02d} min" if hours else f"{mins} min {secs:02d} s"


def minutes(seconds: float) -> str:
    """Seconds as a short duration in whole minutes, rounded up: '7 min', '1 h 05 min'."""
    total = math.ceil(seconds / 60)
    return f"{total // 60} h {total % 60:02d} min" if total >= 60 else f"{total} min"


# A price computed from other prices (basis "derived") is marked wherever it is shown, and the
# output says once what the mark means (docs/pricing.md, "Price basis").
ESTIMATE_MARK = "≈"
ESTIMATE_FOOTNOTE = (
    f"{ESTIMATE_MARK} estimated price: derived from another region's or instance family's price, "
    "not published for this type and region, so the costs built on it are estimates too; "
    "check it with the live Price List API or a price overrides file (docs/pricing.md)."
)


def estimated(text: str, estimate: bool) -> str:
    """`text` with the estimate mark in front when the price behind it is an estimate."""
    return f"{ESTIMATE_MARK} {text}" if estimate else text
