"""The calls-against-grants map: the IAM actions each Lambda function calls (handler_calls.json).

tests/integration/test_calls_against_grants.py records every AWS call of every handler on the
local stack and fails on a call the map lacks; tests/infra/test_cdk_calls.py fails on an action
of the map that the function's role does not allow (docs/deploy.md, "Calls against grants").
The file ships in the package, not in infra/, so that the CLI can read it wherever infercost is
installed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from infercost.domain.errors import InputError

CALLS_FILE = Path(__file__).with_name("handler_calls.json")
WRITE_ENV = "INFERCOST_WRITE_CALLS"
COMMENT = (
    "Function -> the IAM actions its handler calls. Written by "
    f"`{WRITE_ENV}=functions/infercost/handler_calls.json pytest "
    "tests/integration/test_calls_against_grants.py`, which records every AWS call of every "
    "handler on the local stack and fails on one missing here; tests/infra/test_cdk_calls.py "
    "fails on an action here that the function's role does not allow (docs/deploy.md, "
    '"Calls against grants").'
)


def load_calls(path: Path = CALLS_FILE) -> dict[str, tuple[str, ...]]:
    """CDK function name -> its IAM actions, sorted ('PrepareFunction' -> ('dynamodb:PutItem', ...))."""
    data = json.loads(path.read_text(encoding="utf-8"))
    calls: dict[str, tuple[str, ...]] = {}
    for function, actions in data.items():
        if function.startswith("_"):
            continue
        if not isinstance(actions, list) or not all(
            isinstance(a, str) and a.count(":") == 1 for a in actions
        ):
            raise InputError(
                f"must be a list of IAM actions like 's3:GetObject', got {actions!r}", field=function
            )
        calls[function] = tuple(sorted(actions))
    return calls


def dump_calls(calls: Mapping[str, Iterable[str]]) -> str:
    """The file's text for `calls`: functions and actions sorted, after the comment."""
    data: dict[str, object] = {"_comment": COMMENT}
    data.update({function: sorted(set(calls[function])) for function in sorted(calls)})
    return json.dumps(data, indent=2) + "\n"
