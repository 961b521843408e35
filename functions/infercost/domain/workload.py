"""The spec's `workload`: what each request sends. Classic models send one payload (the default);
an LLM workload streams generations from prompts and is measured in tokens (docs/method.md §9).

This module imports nothing of `domain.models`, which refers to it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from infercost.domain.errors import InputError, from_validation_error

# The percentiles of domain.models (a test holds them equal; models imports this module).
TokenPercentile = Literal["p50", "p90", "p95", "p99", "max"]

TokenMetric = Literal["ttft", "itl", "e2e"]
TOKEN_METRICS: tuple[TokenMetric, ...] = ("ttft", "itl", "e2e")
# Inline prompts travel in every candidate's state (Step Functions' 256 KB payload limit).
MAX_INLINE_PROMPTS_BYTES = 32 * 1024
MAX_PROMPTS = 1000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class TokenSlo(_Strict):
    """A bound on one token metric: `metric`'s `percentile` must not exceed `max_ms`."""

    metric: TokenMetric
    percentile: TokenPercentile
    max_ms: float = Field(gt=0)

    @classmethod
    def parse_list(cls, text: str, *, field: str = "--slo") -> list[TokenSlo]:
        """The CLI form 'ttft:p90:500,itl:p90:50' (metric : percentile : milliseconds)."""
        slos = []
        for part in (p.strip() for p in text.split(",") if p.strip()):
            pieces = part.split(":")
            if len(pieces) != 3:
                raise InputError(
                    f"expected METRIC:PERCENTILE:MS such as ttft:p90:500, got {part!r}",
                    field=field,
                    hint=f"metrics: {', '.join(TOKEN_METRICS)}; percentiles: p50, p90, p95, p99, max",
                )
            metric, percentile, bound = pieces
            try:
                bound_ms = float(bound.removesuffix("ms"))
            except ValueError:
                raise InputError(f"the bound {bound!r} is not a number", field=field) from None
            data = {
                "metric": metric.strip().lower(),
                "percentile": percentile.strip().lower(),
                "max_ms": bound_ms,
            }
            try:
                slos.append(cls.model_validate(data))
            except ValidationError as error:
                raise from_validation_error(error, prefix=field) from None
        if not slos:
            raise InputError("give at least one METRIC:PERCENTILE:MS", field=field)
        return slos

    def describe(self) -> str:
        return f"{self.metric.upper()} {self.percentile.upper()} ≤ {self.max_ms:g} ms"


class LlmWorkload(_Strict):
    """`workload: {"kind": "llm", ...}`: streamed generation from prompts, counted in tokens."""

    kind: Literal["llm"] = "llm"
    prompts: str | list[str] = Field(description="the S3 key of a JSONL file, or the prompts inline")
    max_new_tokens: int = Field(gt=0, le=100_000)
    tokenizer: str = Field(
        default="whitespace", min_length=1, description="whitespace, bytes, or a tokenizer.json key"
    )
    slo: list[TokenSlo] = Field(default_factory=list, description="bounds on ttft, itl and e2e")

    @field_validator("prompts")
    @classmethod
    def _prompts(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("give the S3 key of a JSONL file of prompts, or a list of prompts")
            return value
        return check_prompts(value)

    @field_validator("max_new_tokens", mode="before")
    @classmethod
    def _positive(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
            raise ValueError(f"must be at least 1 (tokens to generate), got {value}")
        return value

    def request_body(self, prompt: str) -> bytes:
        """The request of one prompt in the Hugging Face TGI / LMI shape SageMaker LLM containers take."""
        body = {"inputs": prompt, "parameters": {"max_new_tokens": self.max_new_tokens}, "stream": True}
        return json.dumps(body, separators=(",", ":")).encode()


def check_prompts(prompts: Sequence[str]) -> list[str]:
    """Prompts must be a non-empty list of non-empty strings, small enough to travel inline."""
    if not prompts:
        raise ValueError("the prompt list is empty: give at least one prompt")
    if len(prompts) > MAX_PROMPTS:
        raise ValueError(f"{len(prompts)} prompts; at most {MAX_PROMPTS} are used")
    for index, prompt in enumerate(prompts):
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"prompt {index} is empty: every prompt needs text")
    size = sum(len(p.encode()) for p in prompts)
    if size > MAX_INLINE_PROMPTS_BYTES:
        raise ValueError(
            f"inline prompts are {size} bytes; at most {MAX_INLINE_PROMPTS_BYTES} travel with the run: "
            "upload them as a JSONL file and give its key"
        )
    return list(prompts)


def parse_prompts(data: bytes, source: str) -> list[str]:
    """Prompts from a JSONL file: one JSON string, or object with `prompt`/`text`/`inputs`, a line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{source} is not UTF-8 JSONL", field="workload.prompts") from None
    prompts: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(
                f"line {number} of {source} is not JSON ({error.msg}): prompts are JSONL, one JSON value a line",
                field="workload.prompts",
            ) from None
        if isinstance(item, dict):
            item = next((item[k] for k in ("prompt", "text", "inputs") if isinstance(item.get(k), str)), None)
        if not isinstance(item, str) or not item.strip():
            raise InputError(
                f"line {number} of {source} holds no prompt: give a JSON string or an object with 'prompt'",
                field="workload.prompts",
            )
        prompts.append(item)
        if len(prompts) == MAX_PROMPTS:
            break
    if not prompts:
        raise InputError(f"{source} holds no prompt", field="workload.prompts")
    return prompts
