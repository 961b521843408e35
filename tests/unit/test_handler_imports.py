"""What importing a Lambda handler costs: nothing heavy at module level (cold start, issue 9).

A fresh interpreter, in the environment Lambda gives a function with active tracing, imports every
handler module; the libraries only some paths need (charts, the local stack, the CLI, the price
book) and the validators of the package's models must not load until they are used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import importlib, json, sys
from infercost.handlers import HANDLERS, JANITOR
for module in [*HANDLERS.values(), JANITOR]:
    importlib.import_module(f"infercost.handlers.{module}")
from infercost.domain import models, records, results, workflow
from infercost.handlers import _shared
built = [
    cls.__name__
    for cls in (models.EvaluationSpec, results.Recommendation, results.ResultsFile, records.RunRecord, workflow.Evaluation)
    if cls.__pydantic_complete__
]
print(json.dumps({
    "packages": sorted({name.split(".")[0] for name in sys.modules}),
    "modules": sorted(name for name in sys.modules if name.startswith("infercost")),
    "built": built,
    "traced": list(_shared.TRACED_MODULES),
}))
"""


def run_in_lambda_env(tmp_path: Path, code: str) -> str:
    """stdout of `code` in a fresh interpreter with the environment of a traced Lambda function."""
    # Not the test session's POWERTOOLS_TRACE_DISABLED: a deployed function traces.
    prefixes = ("AWS_", "INFERCOST_", "POWERTOOLS_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    env.update(
        AWS_LAMBDA_FUNCTION_NAME="infercost-test",
        LAMBDA_TASK_ROOT=str(tmp_path),
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    return done.stdout


def import_all_handlers(tmp_path: Path) -> dict[str, list[str]]:
    result: dict[str, list[str]] = json.loads(run_in_lambda_env(tmp_path, PROBE))
    return result


def test_handlers_import_no_heavy_library_and_build_no_validator(tmp_path: Path) -> None:
    found = import_all_handlers(tmp_path)

    heavy = {"matplotlib", "numpy", "moto", "rich", "typer", "requests", "ddsketch", "boto3"}
    assert heavy.isdisjoint(found["packages"]), sorted(heavy & set(found["packages"]))
    assert "infercost.data.pricing.book" not in found["modules"]
    # The HTML report and its charts load in Report only (matplotlib is in its layer alone).
    assert {"infercost.report.html", "infercost.report.charts"}.isdisjoint(found["modules"])
    assert found["built"] == []
    # X-Ray traces what the handlers call out with, and patches nothing else.
    assert found["traced"] == ["botocore"]


@pytest.mark.parametrize(
    ("module", "patched"), [("teardown", ["botocore"]), ("notify", ["botocore", "httplib"])]
)
def test_only_notify_pays_for_tracing_http_client(tmp_path: Path, module: str, patched: list[str]) -> None:
    probe = (
        f"import infercost.handlers.{module}, json\n"
        "from aws_xray_sdk.core import patcher\n"
        "print(json.dumps(sorted(patcher._PATCHED_MODULES)))"
    )
    assert json.loads(run_in_lambda_env(tmp_path, probe)) == patched
