"""LLM endpoints: the workload, the per-request token metrics, their mergeable aggregates, token
SLOs, goodput and the cost of a million tokens (docs/method.md §9).

Per request, from the arrival times of a streamed response's parts and the text each carried:
- time to first token (TTFT): arrival of the first part whose text holds at least one token;
- end to end: arrival of the end of the stream;
- output tokens: the whole text counted with the named tokenizer (a part can carry several
  tokens or none; parts are never counted as tokens);
- inter-token latency (ITL) = (end to end − TTFT) ÷ (output tokens − 1), none for one token.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from infercost.domain.costing import HOURS_PER_MONTH, SECONDS_PER_HOUR, cost_per_1m_tokens
from infercost.domain.formatting import usd
from infercost.domain.models import Slo
from infercost.domain.results import LatencyStats, LlmStats, RankedCandidate
from infercost.domain.sketch import LatencySketch
from infercost.domain.tokens import Tokenizer
from infercost.domain.traffic import TrafficProfile
from infercost.domain.workload import TokenMetric, TokenSlo


@dataclass(frozen=True)
class RequestTokens:
    """One streamed request's token metrics (ms, tokens) and whether it met every token SLO."""

    ttft_ms: float
    e2e_ms: float
    itl_ms: float | None
    input_tokens: int
    output_tokens: int
    good: bool = True

    def value(self, metric: TokenMetric) -> float | None:
        return {"ttft": self.ttft_ms, "itl": self.itl_ms, "e2e": self.e2e_ms}[metric]


def request_tokens(
    part_ms: Sequence[float],
    part_texts: Sequence[str],
    end_ms: float,
    tokenizer: Tokenizer,
    *,
    input_tokens: int = 0,
    slos: Sequence[TokenSlo] = (),
) -> RequestTokens | str:
    """The metrics of one streamed response, or why it has none (a stream without tokens)."""
    ttft_ms = None
    for at_ms, text in zip(part_ms, part_texts, strict=True):
        if text and tokenizer.count(text) > 0:
            ttft_ms = at_ms
            break
    output = tokenizer.count("".join(part_texts))
    if ttft_ms is None or output == 0:
        return f"the stream ended without tokens ({len(part_ms)} parts, tokenizer {tokenizer.name})"
    e2e_ms = max(end_ms, ttft_ms)
    itl_ms = (e2e_ms - ttft_ms) / (output - 1) if output > 1 else None
    request = RequestTokens(ttft_ms, e2e_ms, itl_ms, input_tokens, output)
    if slos and not meets_every(request, slos):
        request = RequestTokens(ttft_ms, e2e_ms, itl_ms, input_tokens, output, good=False)
    return request


def meets_every(request: RequestTokens, slos: Iterable[TokenSlo]) -> bool:
    """A request counts towards goodput when each of its metrics is within each bound (a one-token
    answer has no inter-token latency to miss)."""
    for slo in slos:
        value = request.value(slo.metric)
        if value is not None and value > slo.max_ms:
            return False
    return True


class TokenLevel(BaseModel):
    """One load level's token measurements: mergeable sketches and exact sums (docs/method.md §9)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    requests: int = Field(ge=0, description="streamed requests with tokens")
    good: int = Field(ge=0, description="of those, requests that met every token SLO")
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    good_output_tokens: int = Field(ge=0)
    good_input_tokens: int = Field(ge=0)
    output_tokens_per_s: float = Field(ge=0, description="output-token goodput: good requests' tokens ÷ s")
    input_tokens_per_s: float = Field(ge=0)
    goodput_rps: float = Field(ge=0)
    ttft_ms: LatencyStats | None
    itl_ms: LatencyStats | None
    ttft_sketch: str
    itl_sketch: str
    tokenizer: str
    slos: list[TokenSlo] = Field(default_factory=list)

    def stats(self, metric: TokenMetric, e2e: LatencyStats | None) -> LatencyStats | None:
        return {"ttft": self.ttft_ms, "itl": self.itl_ms, "e2e": e2e}[metric]

    def breach(self, e2e: LatencyStats | None, concurrency: int) -> str | None:
        """Why this level misses a token SLO (its percentile over the bound), or None."""
        for slo in self.slos:
            stats = self.stats(slo.metric, e2e)
            value = stats.at(slo.percentile) if stats is not None else None
            if value is not None and value > slo.max_ms:
                return (
                    f"{slo.metric} {slo.percentile} {value:.1f} ms > {slo.max_ms:g} ms "
                    f"at concurrency {concurrency}"
                )
        return None


@dataclass
class TokenAccumulator:
    """Collects one level's requests (in the load client) and turns them into a TokenLevel."""

    tokenizer: str
    slos: list[TokenSlo] = field(default_factory=list)
    ttft: LatencySketch = field(default_factory=LatencySketch)
    itl: LatencySketch = field(default_factory=LatencySketch)
    requests: int = 0
    good: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    good_input_tokens: int = 0
    good_output_tokens: int = 0

    def add(self, request: RequestTokens) -> None:
        self.requests += 1
        self.ttft.add(request.ttft_ms)
        if request.itl_ms is not None:
            self.itl.add(request.itl_ms)
        self.input_tokens += request.input_tokens
        self.output_tokens += request.output_tokens
        if request.good:
            self.good += 1
            self.good_input_tokens += request.input_tokens
            self.good_output_tokens += request.output_tokens

    def merged_with(self, other: TokenAccumulator) -> TokenAccumulator:
        merged = TokenAccumulator(self.tokenizer, list(self.slos))
        for part in (self, other):
            merged.ttft.merge(part.ttft)
            merged.itl.merge(part.itl)
            merged.requests += part.requests
            merged.good += part.good
            merged.input_tokens += part.input_tokens
            merged.output_tokens += part.output_tokens
            merged.good_input_tokens += part.good_input_tokens
            merged.good_output_tokens += part.good_output_tokens
        return merged

    def result(self, duration_s: float) -> TokenLevel:
        def rate(count: int) -> float:
            return count / duration_s if duration_s > 0 else 0.0

        return TokenLevel(
            requests=self.requests,
            good=self.good,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            good_output_tokens=self.good_output_tokens,
            good_input_tokens=self.good_input_tokens,
            output_tokens_per_s=rate(self.good_output_tokens),
            input_tokens_per_s=rate(self.good_input_tokens),
            goodput_rps=rate(self.good),
            ttft_ms=self.ttft.stats(),
            itl_ms=self.itl.stats(),
            ttft_sketch=self.ttft.to_text(),
            itl_sketch=self.itl.to_text(),
            tokenizer=self.tokenizer,
            slos=self.slos,
        )


def merge_token_levels(levels: Sequence[TokenLevel]) -> TokenLevel:
    """Workers' shares of one level: sketches merge exactly, counts and rates add."""
    if not levels:
        raise ValueError("nothing to merge")
    ttft, itl = LatencySketch(), LatencySketch()
    for level in levels:
        ttft.merge(LatencySketch.from_text(level.ttft_sketch))
        itl.merge(LatencySketch.from_text(level.itl_sketch))
    first = levels[0]
    return TokenLevel(
        requests=sum(x.requests for x in levels),
        good=sum(x.good for x in levels),
        input_tokens=sum(x.input_tokens for x in levels),
        output_tokens=sum(x.output_tokens for x in levels),
        good_output_tokens=sum(x.good_output_tokens for x in levels),
        good_input_tokens=sum(x.good_input_tokens for x in levels),
        output_tokens_per_s=sum(x.output_tokens_per_s for x in levels),
        input_tokens_per_s=sum(x.input_tokens_per_s for x in levels),
        goodput_rps=sum(x.goodput_rps for x in levels),
        ttft_ms=ttft.stats(),
        itl_ms=itl.stats(),
        ttft_sketch=ttft.to_text(),
        itl_sketch=itl.to_text(),
        tokenizer=first.tokenizer,
        slos=first.slos,
    )


def token_costs(
    llm: LlmStats | None, price_per_hour_usd: float | None, instance_count: int = 1
) -> tuple[float | None, float | None]:
    """(cost per 1M output tokens, per 1M input tokens) of a streamed candidate, None where unknown:
    price per hour × instances ÷ 3600 ÷ tokens/s × 1,000,000 at its token goodput."""
    if llm is None or price_per_hour_usd is None:
        return None, None
    output = cost_per_1m_tokens(price_per_hour_usd, llm.output_tokens_per_s, instance_count)
    inputs = cost_per_1m_tokens(price_per_hour_usd, llm.input_tokens_per_s or 0.0, instance_count)
    return output, inputs


def token_slo_miss(llm: LlmStats | None) -> str | None:
    """Why a streamed candidate misses its token SLOs: no load level served a token within them
    (no output-token goodput), or None. Nothing that misses them is recommended."""
    if llm is None or llm.output_tokens_per_s > 0:
        return None
    return "no load level met the token SLOs (no output-token goodput)"


def token_explanation(
    ranked: Sequence[RankedCandidate], slo: Slo, recommended: RankedCandidate | None
) -> str | None:
    """The recommendation of streamed candidates in one paragraph, by cost per 1M output tokens;
    None when nothing is recommended (the general explanation says why)."""
    winner = recommended
    if winner is None or winner.llm is None or winner.cost_per_1m_output_tokens_usd is None:
        return None
    passing = [item for item in ranked if item.meets_slo]
    bound = f"{slo.describe()} and the token SLOs"
    if len(passing) > 1:
        text = f"{winner.label} is the cheapest per million output tokens of {len(passing)} candidates that meet {bound}"
    else:
        text = f"{winner.label} is the only candidate of {len(ranked)} that meets {bound}"
    llm = winner.llm
    text += (
        f": {usd(winner.cost_per_1m_output_tokens_usd)} per 1M output tokens at "
        f"{llm.output_tokens_per_s:,.1f} output tokens/s of goodput"
        + (f" (concurrency {llm.concurrency})" if llm.concurrency else "")
        + f", TTFT P90 {_p90(llm.ttft_ms)}, ITL P90 {_p90(llm.itl_ms)}"
    )
    runner_up = next((item for item in passing if item is not winner), None)
    if runner_up is not None and runner_up.cost_per_1m_output_tokens_usd:
        saving = 1 - winner.cost_per_1m_output_tokens_usd / runner_up.cost_per_1m_output_tokens_usd
        text += (
            f", {saving:.0%} cheaper than the runner-up {runner_up.label} "
            f"({usd(runner_up.cost_per_1m_output_tokens_usd)})"
        )
    failing = [item for item in ranked if not item.meets_slo]
    if failing:
        text += f". {len(failing)} of {len(ranked)} {'misses' if len(failing) == 1 else 'miss'} them: "
        text += "; ".join(f"{item.label} ({item.slo_verdict})" for item in failing)
    return text + "."


def _p90(stats: LatencyStats) -> str:
    return f"{stats.p90 if stats.p90 is not None else stats.avg:,.1f} ms"


def monthly_token_cost_usd(
    output_tokens_per_month: float,
    output_tokens_per_s: float,
    price_per_hour_usd: float,
    instance_count: int = 1,
) -> float | None:
    """Instance-hours to generate a month's tokens at the measured goodput, × price; at least
    one always-on instance for the month. None when nothing was generated within the SLOs."""
    if output_tokens_per_s <= 0:
        return None
    busy_hours = output_tokens_per_month / output_tokens_per_s / SECONDS_PER_HOUR
    instances = max(1.0, busy_hours / HOURS_PER_MONTH)
    return instances * HOURS_PER_MONTH * price_per_hour_usd * instance_count


def monthly_tokens(
    traffic: TrafficProfile | None,
    llm: LlmStats | None,
    price_per_hour_usd: float | None,
    instance_count: int,
) -> float | None:
    """The monthly figure of a traffic profile's output tokens on a streamed candidate, when both exist."""
    if (
        traffic is None
        or traffic.output_tokens_per_month is None
        or llm is None
        or price_per_hour_usd is None
    ):
        return None
    return monthly_token_cost_usd(
        traffic.output_tokens_per_month, llm.output_tokens_per_s, price_per_hour_usd, instance_count
    )
