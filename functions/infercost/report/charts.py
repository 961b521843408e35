"""The report's charts, drawn with matplotlib's Agg renderer and returned as PNG data URIs.

matplotlib is imported inside `render_charts` only: importing this module costs nothing, which
matters for Lambda cold starts. Figures are built with `matplotlib.figure.Figure` directly
(no pyplot), so no global figure state is kept between invocations.
"""

from __future__ import annotations

import base64
import io
import math
import os
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from infercost.domain.formatting import usd
from infercost.domain.models import Percentile
from infercost.domain.results import RankedCandidate, Recommendation

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from infercost.report.inputs import CandidateSweep, ReportInput

# PNG resolution; the report's CSS scales images to the page width.
DPI = 110
MEETS = "#2e7d32"
MISSES = "#b23b3b"
NEUTRAL = "#8a8f98"
ACCENT = "#1f5fa8"
SLO_LINE = "#6b4f2a"
AMBER = "#c98a0b"
INK = "#3a3f47"


def render_charts(report: ReportInput) -> dict[str, str]:
    """The report's charts as PNG data URIs by name; a chart without data is left out.

    Names: cost_latency, latency, throughput (sweep or max RPS at SLO), serving (monthly cost by
    serving mode) or, for a recommendation made before serving modes, monthly.
    """
    rec = report.recommendation
    if rec is None or not rec.ranked:
        return {}
    # Lambda's file system is read-only outside /tmp; matplotlib needs a writable config dir.
    os.environ.setdefault("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), "matplotlib"))
    import matplotlib

    matplotlib.use("Agg")
    charts = {
        "cost_latency": _png(_cost_latency_figure(rec)),
        "latency": _png(_latency_figure(rec)),
    }
    throughput = _sweep_figure(report.sweeps, rec) if report.sweeps else None
    if throughput is None:
        throughput = _max_rps_figure(rec)
    if throughput is not None:
        charts["throughput"] = _png(throughput)
    serving = _serving_figure(rec)
    if serving is not None:
        charts["serving"] = _png(serving)
    else:
        monthly = _monthly_figure(rec)
        if monthly is not None:
            charts["monthly"] = _png(monthly)
    return charts


def monthly_rows(rec: Recommendation) -> list[RankedCandidate]:
    """Candidates with a finite monthly projection: those meeting the SLO first, cheapest first."""
    rows = [item for item in rec.ranked if _monthly_cost(item) is not None]
    return sorted(rows, key=lambda item: (not item.meets_slo, _monthly_cost(item) or 0.0, item.rank))


def _monthly_cost(item: RankedCandidate) -> float | None:
    """The projected monthly cost, None when the candidate cannot serve the peak at any cost."""
    cost = item.monthly.monthly_cost_usd if item.monthly is not None else None
    # The cost engine marks "no instance count serves the peak" with an infinite cost.
    return cost if isinstance(cost, int | float) and math.isfinite(cost) else None


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _new_figure(width_in: float, height_in: float, columns: int = 1) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), layout="constrained")
    axes = figure.subplots(1, columns, squeeze=False)[0]
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(True, color="#e4e6ea", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.tick_params(labelsize=9, colors=INK)
    return figure, list(axes)


def _wide_range(values: Sequence[float], ratio: float) -> bool:
    positive = [value for value in values if value > 0 and math.isfinite(value)]
    return bool(positive) and max(positive) / min(positive) > ratio


def _log_axis(ax: Axes, axis: str, *, money: bool = False) -> None:
    """A log axis with plain tick labels at 1-2-5 steps (5, 10, 20 ms; $0.05, $0.10)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    target.set_major_formatter(FuncFormatter(lambda value, _: usd(value) if money else f"{value:g}"))
    target.set_minor_formatter(NullFormatter())


def _money_axis(ax: Axes, axis: str) -> None:
    from matplotlib.ticker import FuncFormatter

    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(FuncFormatter(lambda value, _: usd(value)))


def _cost_latency_figure(rec: Recommendation) -> Figure:
    figure, (ax,) = _new_figure(10, 5.2)
    ranked = rec.ranked
    percentile = rec.slo.percentile.upper()
    bound = rec.slo.max_latency_ms
    latencies = [item.slo_latency_ms for item in ranked]
    costs = [item.cost_per_100k_usd for item in ranked]
    log_x = _wide_range([*latencies, bound], 20)
    if log_x:
        _log_axis(ax, "x")
    if _wide_range(costs, 20):
        _log_axis(ax, "y", money=True)
    else:
        _money_axis(ax, "y")
    right = max([*latencies, bound]) * (1.4 if log_x else 1.12)
    ax.axvline(bound, color=SLO_LINE, linestyle=":", linewidth=1.6, label=f"SLO {rec.slo.describe()}")
    ax.axvspan(bound, right, color="#f6f0f0", zorder=0)
    for meets, color, name in ((True, MEETS, "meets the SLO"), (False, MISSES, "misses the SLO")):
        group = [item for item in ranked if item.meets_slo == meets]
        if group:
            ax.scatter(
                [item.slo_latency_ms for item in group],
                [item.cost_per_100k_usd for item in group],
                s=46,
                color=color,
                alpha=0.9,
                edgecolors="white",
                linewidths=0.8,
                label=name,
                zorder=3,
            )
    front = sorted((item for item in ranked if item.pareto_optimal), key=lambda item: item.slo_latency_ms)
    if front:
        # The front as a staircase: each step is the cheapest cost reachable at that latency.
        ax.step(
            [item.slo_latency_ms for item in front] + [right],
            [item.cost_per_100k_usd for item in front] + [front[-1].cost_per_100k_usd],
            where="post",
            color=ACCENT,
            linestyle="--",
            linewidth=1.1,
            label="Pareto front",
            zorder=2,
        )
    if rec.recommended is not None:
        winner = rec.recommended
        ax.scatter(
            [winner.slo_latency_ms],
            [winner.cost_per_100k_usd],
            s=260,
            marker="*",
            color="#f2c14e",
            edgecolors=INK,
            linewidths=0.9,
            label=f"recommended: {winner.label}",
            zorder=4,
        )
    for item in ranked:
        ax.annotate(
            str(item.rank),
            (item.slo_latency_ms, item.cost_per_100k_usd),
            xytext=(5, 4),
            textcoords="offset points",
            fontsize=8,
            color=INK,
        )
    left = min([*latencies, bound]) * 0.7 if log_x else 0
    ax.set_xlim(left, right)
    ax.set_xlabel(f"{percentile} latency (ms)")
    ax.set_ylabel("$ per 100k inferences (one request in flight)")
    ax.set_title(f"Cost per 100k inferences vs {percentile} latency", loc="left", fontsize=11)
    ax.legend(fontsize=8, frameon=True, framealpha=0.9, edgecolor="#e4e6ea", loc="best")
    return figure


_MARKERS: dict[Percentile, str] = {"p50": "o", "p90": "s", "p95": "D", "p99": "^", "max": "x"}


def _latency_figure(rec: Recommendation) -> Figure:
    from matplotlib.lines import Line2D

    ranked = rec.ranked
    figure, (ax,) = _new_figure(10, 1.3 + 0.34 * len(ranked))
    values: list[float] = [rec.slo.max_latency_ms]
    for position, item in enumerate(ranked):
        y = len(ranked) - 1 - position
        stats = item.latency_ms
        present = [(name, value) for name in _MARKERS if (value := stats.at(name)) is not None]
        points = [value for _, value in present]
        if points:
            ax.hlines(y, min(points), max(points), color="#c3c7ce", linewidth=2, zorder=1)
        for name, value in present:
            highlighted = name == rec.slo.percentile
            color = (MEETS if item.meets_slo else MISSES) if highlighted else "#6a707a"
            ax.scatter(
                [value],
                [y],
                marker=_MARKERS[name],
                s=50 if highlighted else 22,
                color=color,
                zorder=3 if highlighted else 2,
            )
        ax.scatter([stats.avg], [y], marker="|", s=160, color=ACCENT, zorder=2)
        values += [*points, stats.avg]
    if _wide_range(values, 30):
        _log_axis(ax, "x")
    ax.axvline(rec.slo.max_latency_ms, color=SLO_LINE, linestyle=":", linewidth=1.6)
    ax.set_yticks(range(len(ranked)))
    ax.set_yticklabels([f"{item.rank}. {item.label}" for item in reversed(ranked)], fontsize=8.5)
    ax.set_ylim(-0.7, len(ranked) - 0.3)
    ax.set_xlabel("latency (ms)")
    ax.grid(True, axis="y", color="#f1f2f4")
    ax.set_title("Latency percentiles per candidate, in rank order", loc="left", fontsize=11)
    percentile = rec.slo.percentile
    handles = [
        Line2D([], [], linestyle="", marker=marker, color="#6a707a", label=name)
        for name, marker in _MARKERS.items()
        if name != percentile
    ]
    handles += [
        Line2D([], [], linestyle="", marker=_MARKERS[percentile], color=MEETS, label=f"{percentile}, meets"),
        Line2D(
            [], [], linestyle="", marker=_MARKERS[percentile], color=MISSES, label=f"{percentile}, misses"
        ),
        Line2D([], [], linestyle="", marker="|", markersize=12, color=ACCENT, label="avg"),
        Line2D([], [], linestyle=":", color=SLO_LINE, label=f"SLO {rec.slo.max_latency_ms:g} ms"),
    ]
    ax.legend(handles=handles, fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return figure


def _sweep_figure(sweeps: Sequence[CandidateSweep], rec: Recommendation) -> Figure | None:
    swept = sorted(
        (sweep for sweep in sweeps if len(sweep.points) > 1),
        key=lambda sweep: (sweep.rank is None, sweep.rank or 0, sweep.label),
    )
    if not swept:
        return None
    figure, (left, right) = _new_figure(11, 4.8, columns=2)
    costs: list[float] = []
    for sweep, color in zip(swept, _palette(len(swept)), strict=True):
        name = f"{sweep.rank}. {sweep.label}" if sweep.rank is not None else sweep.label
        style = "-" if sweep.meets_slo else "--"
        latency = [(p.concurrency, p.slo_latency_ms) for p in sweep.points if p.slo_latency_ms is not None]
        if latency:
            xs, ys = zip(*latency, strict=True)
            left.plot(xs, ys, style, marker="o", markersize=3.5, color=color, label=name)
        cost = [(p.concurrency, p.cost_per_100k_usd) for p in sweep.points if p.cost_per_100k_usd]
        if cost:
            xs, ys = zip(*cost, strict=True)
            right.plot(xs, ys, style, marker="o", markersize=3.5, color=color)
            costs += [value for _, value in cost if value is not None]
    percentile = rec.slo.percentile.upper()
    left.axhline(rec.slo.max_latency_ms, color=SLO_LINE, linestyle=":", linewidth=1.6)
    left.annotate(
        f"SLO {rec.slo.max_latency_ms:g} ms",
        (0.01, rec.slo.max_latency_ms),
        xycoords=("axes fraction", "data"),
        xytext=(0, 3),
        textcoords="offset points",
        fontsize=8,
        color=SLO_LINE,
    )
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent requests")
        ax.xaxis.set_major_formatter(_plain_formatter())
    left.set_ylabel(f"{percentile} latency (ms)")
    left.set_title(f"{percentile} latency by concurrency", loc="left", fontsize=11)
    right.set_ylabel("$ per 100k inferences")
    right.set_title("Cost per 100k at each level's throughput", loc="left", fontsize=11)
    if _wide_range(costs, 20):
        _log_axis(right, "y", money=True)
    else:
        _money_axis(right, "y")
    figure.legend(
        fontsize=8,
        frameon=False,
        loc="outside right upper",
        title="dashed: misses the SLO",
        title_fontsize=8,
    )
    return figure


def _plain_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: f"{value:g}")


def _palette(count: int) -> list[Any]:
    from matplotlib import colormaps

    colors = colormaps["tab10" if count <= 10 else "tab20"].colors  # type: ignore[attr-defined]
    return [colors[index % len(colors)] for index in range(count)]


def _max_rps_figure(rec: Recommendation) -> Figure | None:
    swept = [item for item in rec.ranked if item.max_rps_at_slo is not None]
    if not swept:
        return None
    figure, (ax,) = _new_figure(10, 1.2 + 0.32 * len(swept))
    ordered = list(reversed(swept))
    values = [item.max_rps_at_slo or 0.0 for item in ordered]
    bars = ax.barh(
        [f"{item.rank}. {item.label}" for item in ordered],
        values,
        color=[MEETS if item.meets_slo else MISSES for item in ordered],
        height=0.6,
    )
    for bar, item in zip(bars, ordered, strict=True):
        cost = item.cost_per_100k_at_throughput_usd
        note = f"  {usd(cost)} per 100k" if cost is not None else ""
        ax.annotate(
            f"{item.max_rps_at_slo:,.1f} req/s{note}",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_xlim(right=max([*values, 1.0]) * 1.3)
    ax.tick_params(axis="y", labelsize=8.5)
    ax.grid(False, axis="y")
    ax.set_xlabel("max requests per second within the SLO")
    ax.set_title("Throughput within the SLO, and its cost per 100k", loc="left", fontsize=11)
    return figure


def _monthly_figure(rec: Recommendation) -> Figure | None:
    rows = monthly_rows(rec)
    if rec.traffic is None or not rows:
        return None
    figure, (ax,) = _new_figure(10, 1.3 + 0.32 * len(rows))
    ordered = list(reversed(rows))
    values = [_monthly_cost(item) or 0.0 for item in ordered]
    colors = [
        NEUTRAL if not item.meets_slo else (MEETS if item.monthly and item.monthly.meets_peak else AMBER)
        for item in ordered
    ]
    bars = ax.barh([f"{item.rank}. {item.label}" for item in ordered], values, color=colors, height=0.6)
    for bar, item in zip(bars, ordered, strict=True):
        monthly = item.monthly
        assert monthly is not None
        needed = monthly.instances_needed
        shape = "serverless" if needed is None else f"{needed} instance{'s' if needed != 1 else ''}"
        ax.annotate(
            f"{usd(monthly.monthly_cost_usd)}  ({shape})",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_xlim(right=max([*values, 1.0]) * 1.3)
    _money_axis(ax, "x")
    ax.tick_params(axis="y", labelsize=8.5)
    ax.grid(False, axis="y")
    ax.set_xlabel("$ per month (730 hours)")
    ax.set_title("Monthly cost of serving the traffic profile", loc="left", fontsize=11)
    return figure


MODE_COLORS = {
    "realtime": ACCENT,
    "multi-model": "#5b8fd1",
    "serverless": "#7b5ea7",
    "serverless-provisioned": "#a58bd0",
    "async": "#2a8c8c",
    "batch": "#6b7f3a",
}


def _serving_figure(rec: Recommendation) -> Figure | None:
    """Monthly cost of each way to serve the traffic, per candidate: one bar per mode, hatched
    when the mode does not serve the traffic within the SLO."""
    rows = [
        (item, option) for item in rec.ranked for option in item.serving_options if option.monthly_cost_usd
    ]
    if rec.traffic is None or not rows:
        return None
    figure, (ax,) = _new_figure(10, 1.3 + 0.3 * len(rows))
    ordered = list(reversed(rows))
    values = [option.monthly_cost_usd or 0.0 for _, option in ordered]
    labels = [f"{item.rank}. {item.label} — {option.mode}" for item, option in ordered]
    bars = ax.barh(labels, values, height=0.6)
    chosen = rec.serving
    for bar, (item, option) in zip(bars, ordered, strict=True):
        ok = item.meets_slo and option.meets_slo
        bar.set_color(MODE_COLORS.get(option.mode, NEUTRAL) if ok else NEUTRAL)
        if not ok:
            bar.set_hatch("//")
        winner = rec.recommended is not None and item.label == rec.recommended.label and option == chosen
        text = ("≈ " if option.estimate else "") + usd(option.monthly_cost_usd or 0.0)
        if winner:
            text += "  ← recommended"
        elif not ok:
            text += "  (misses the SLO)"
        ax.annotate(
            text,
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            fontweight="bold" if winner else "normal",
        )
    ax.set_xlim(right=max([*values, 1.0]) * 1.35)
    _money_axis(ax, "x")
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(False, axis="y")
    ax.set_xlabel("$ per month (730 hours)")
    ax.set_title("How to serve it: monthly cost by serving mode", loc="left", fontsize=11)
    return figure
