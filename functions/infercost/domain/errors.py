"""Errors a person can act on: each names the field or thing at fault and what would be valid."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError


class InfercostError(Exception):
    """Base for every error infercost reports to a person (CLI exit code 2, run FAILED)."""

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None):
        self.message = message
        self.field = field
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The error as a single line: `field: message (hint)`."""
        text = f"{self.field}: {self.message}" if self.field else self.message
        return f"{text} ({self.hint})" if self.hint else text


class InputError(InfercostError):
    """A file, spec or argument that is not valid."""


class UnknownNameError(InputError):
    """An instance type, accelerator or region that infercost does not know."""


class MissingPriceError(InputError):
    """A price that no source (override, live API, snapshot) could provide."""


def json_path(location: Sequence[int | str]) -> str:
    """Render a pydantic error location as a JSON path: ('results', 1, 'latency_ms') -> results[1].latency_ms."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


# What a valid value looks like, by the pydantic error type; the message pydantic gives is kept.
_HINTS = {
    "missing": "add this field",
    "extra_forbidden": "remove it or check its spelling",
    "json_invalid": "fix the JSON syntax",
}


def _strip_model_prefix(location: Iterable[int | str]) -> list[int | str]:
    # Tagged unions and function validators add their own names to the location; drop them.
    return [p for p in location if not (isinstance(p, str) and p.startswith(("function-", "tagged")))]


def from_validation_error(error: ValidationError, *, prefix: str = "") -> InputError:
    """Turn a pydantic ValidationError into one InputError naming the first bad field."""
    details = error.errors(include_url=False)
    first = details[0]
    path = json_path(_strip_model_prefix(first["loc"]))
    message = _clean_message(first)
    # A validator that knows a deeper path than pydantic's location starts its message with
    # '@<path>: ' (a model validator: '@candidates[2].accelerator_type: …').
    marked = re.match(r"^@(\S+?): ", message)
    if marked:
        message = message[marked.end() :]
        deeper = marked.group(1)
        if path == "(top level)":
            path = deeper
        else:
            path = f"{path}{deeper}" if deeper.startswith("[") else f"{path}.{deeper}"
    if prefix:
        path = prefix if path == "(top level)" else f"{prefix}.{path}"
    more = len(details) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return InputError(message, field=path, hint=_HINTS.get(first["type"]))


def _clean_message(detail: Any) -> str:
    message = str(detail["msg"])
    # Messages from our own validators arrive as "Value error, <text>"; keep only <text>.
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    if detail["type"] not in ("missing", "extra_forbidden", "json_invalid") and "input" in detail:
        shown = repr(detail["input"])
        if len(shown) <= 40 and "got" not in message:
            message += f", got {shown}"
    return message
