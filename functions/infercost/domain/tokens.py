"""Counting tokens the way a model does: a named tokenizer, never one chunk = one token.

Built-ins need no library: `whitespace` counts whitespace-separated words, `bytes` counts UTF-8
bytes. Any other name is the object key of a Hugging Face `tokenizer.json`, read with the
`tokenizers` package (the `llm` extra) from the bytes the caller fetched (docs/method.md §9).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from infercost.domain.errors import InputError

BUILTIN_TOKENIZERS = ("whitespace", "bytes")
TOKENIZER_FIELD = "workload.tokenizer"


@dataclass(frozen=True)
class Tokenizer:
    """A named token counter: `count(text)` is the number of tokens the model sees or emits."""

    name: str
    count: Callable[[str], int]


def _whitespace(text: str) -> int:
    return len(text.split())


def _bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def is_builtin(name: str) -> bool:
    return name in BUILTIN_TOKENIZERS


def builtin_tokenizer(name: str) -> Tokenizer:
    """`whitespace` or `bytes`; any other name is an InputError naming the field."""
    if name == "whitespace":
        return Tokenizer(name, _whitespace)
    if name == "bytes":
        return Tokenizer(name, _bytes)
    raise InputError(
        f"{name!r} is not a built-in tokenizer: use whitespace, bytes or a tokenizer.json object key",
        field=TOKENIZER_FIELD,
    )


def tokenizer_from_json(name: str, data: bytes) -> Tokenizer:
    """A Hugging Face tokenizer.json; one that does not parse is an InputError naming the field."""
    try:
        from tokenizers import Tokenizer as HfTokenizer
    except ImportError:
        raise InputError(
            f"reading {name} needs the 'tokenizers' package",
            field=TOKENIZER_FIELD,
            hint="pip install 'infercost[llm]', or use the built-in whitespace or bytes",
        ) from None
    try:
        hf = HfTokenizer.from_str(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, Exception) as error:  # tokenizers raises Exception
        first = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise InputError(
            f"{name} is not a tokenizer.json that parses: {first}", field=TOKENIZER_FIELD
        ) from None

    def count(text: str) -> int:
        return len(hf.encode(text, add_special_tokens=False).ids)

    return Tokenizer(name, count)
