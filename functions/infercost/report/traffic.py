"""A traffic profile in a few lines for the terminal: volume, peak, busiest and quietest hour, shape."""

from __future__ import annotations

from infercost.domain.traffic import TrafficProfile

BARS = "▁▂▃▄▅▆▇█"
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def sparkline(values: list[float]) -> str:
    """One block character per value, scaled from 0 to the highest value ('▁' for zero)."""
    top = max(values, default=0.0)
    if top <= 0:
        return BARS[0] * len(values)
    return "".join(BARS[min(len(BARS) - 1, int(value / top * (len(BARS) - 1) + 0.5))] for value in values)


def hour_label(index: int, length: int) -> str:
    """Hour `index` of a 24-value curve ('14:00 UTC') or of a 168-value week ('Tue 14:00 UTC')."""
    if length == 24:
        return f"{index:02d}:00 UTC"
    return f"{DAYS[index // 24]} {index % 24:02d}:00 UTC"


def _rate(value: float) -> str:
    return f"{value:,.2f} req/s" if value < 100 else f"{value:,.0f} req/s"


def summary_lines(profile: TrafficProfile) -> list[str]:
    """What `infercost traffic import` prints about the profile it read."""
    lines = [
        f"{profile.requests_per_month:,} requests/month, peak {_rate(profile.peak_rps)}",
    ]
    curve = profile.hourly_rps
    if curve:
        busiest = max(range(len(curve)), key=lambda i: curve[i])
        quietest = min(range(len(curve)), key=lambda i: curve[i])
        lines.append(
            f"busiest hour {hour_label(busiest, len(curve))} ({_rate(curve[busiest])}), "
            f"quietest {hour_label(quietest, len(curve))} ({_rate(curve[quietest])})"
        )
        by_hour = [sum(curve[hour::24]) / (len(curve) // 24) for hour in range(24)]
        lines.append(f"by hour of day (00–23 UTC)  {sparkline(by_hour)}")
        if len(curve) == 168:
            by_day = [sum(curve[day * 24 : day * 24 + 24]) / 24 for day in range(7)]
            lines.append(f"by day (Mon–Sun)           {sparkline(by_day)}")
    if profile.source:
        lines.append(f"from {profile.source}")
    return lines
