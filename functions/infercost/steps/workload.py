"""An LLM workload's prompts and tokenizer, read from the spec or the artifacts bucket."""

from __future__ import annotations

from typing import Any

from infercost.data import artifacts
from infercost.domain.tokens import Tokenizer, builtin_tokenizer, is_builtin, tokenizer_from_json
from infercost.domain.workload import LlmWorkload, parse_prompts
from infercost.measurement.llm import Prompts


def load_tokenizer(s3: Any, bucket: str, workload: LlmWorkload) -> Tokenizer:
    """A built-in tokenizer, or the tokenizer.json object the workload names."""
    if is_builtin(workload.tokenizer):
        return builtin_tokenizer(workload.tokenizer)
    data = artifacts.read_object(s3, bucket, workload.tokenizer, field="workload.tokenizer")
    return tokenizer_from_json(workload.tokenizer, data)


def load_prompts(s3: Any, bucket: str, workload: LlmWorkload) -> Prompts:
    """What each request sends (the prompts in turn) and how its tokens are counted; bad prompts or a
    tokenizer that does not parse is an InputError naming its field."""
    if isinstance(workload.prompts, str):
        data = artifacts.read_object(s3, bucket, workload.prompts, field="workload.prompts")
        prompts = parse_prompts(data, f"s3://{bucket}/{workload.prompts}")
    else:
        prompts = list(workload.prompts)
    return Prompts.of(workload, prompts, load_tokenizer(s3, bucket, workload))
