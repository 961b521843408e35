"""Infrastructure tests: synthesize the CDK app once per session, offline and without bundling."""

from __future__ import annotations

import os
from typing import Any

import pytest

# jsii prints a banner at every start when node is past its end of life; this variable takes the
# node major versions to keep quiet about (a plain "1" silences nothing).
_QUIET_MAJORS = "18,20,22,24,26"
_eol = os.environ.get("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "")
os.environ["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = ",".join(filter(None, [_eol, _QUIET_MAJORS]))
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

import shutil  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from tests.infra.cdk_support import OPTIONS_CONTEXT, TEST_CONTEXT, AppRun, Synth  # noqa: E402

_HERE = Path(__file__).resolve().parent
_background: list[AppRun] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the one synthesis as soon as the infra tests are selected, and let the tests that
    do not read its output run while it works (2 cores: node synthesizes, Python tests)."""
    infra = [i for i, item in enumerate(items) if _HERE in Path(str(item.path)).resolve().parents]
    if not any("synth" in getattr(items[i], "fixturenames", ()) for i in infra):
        return
    _background.append(AppRun(Path(tempfile.mkdtemp(prefix="infercost-cdk.out-")), TEST_CONTEXT))
    group = [items[i] for i in infra]
    group.sort(key=lambda item: "synth" in getattr(item, "fixturenames", ()))
    for position, item in zip(infra, group, strict=True):
        items[position] = item


@pytest.fixture(scope="session")
def synth() -> Synth:
    run = (
        _background[0]
        if _background
        else AppRun(Path(tempfile.mkdtemp(prefix="infercost-cdk.out-")), TEST_CONTEXT)
    )
    result = run.result()
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def pytest_unconfigure(config: pytest.Config) -> None:
    for run in _background:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait(timeout=30)
        shutil.rmtree(run.outdir, ignore_errors=True)


@pytest.fixture(scope="session")
def template(synth: Synth) -> dict[str, Any]:
    return synth.template


@pytest.fixture(scope="session")
def assertions(template: dict[str, Any]) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_json(template)


@pytest.fixture(scope="session")
def options_stack() -> Any:
    """The stack with the optional context set (OPTIONS_CONTEXT), synthesized in-process."""
    from aws_cdk import App

    from infra.app import build, cdk_json_context

    # The cdk-nag plugin runs on this synthesis too: a wrong acknowledgment would fail it.
    return build(App(context={**cdk_json_context(), **TEST_CONTEXT, **OPTIONS_CONTEXT}))


@pytest.fixture(scope="session")
def options_template(options_stack: Any) -> dict[str, Any]:
    from aws_cdk.assertions import Template

    data: dict[str, Any] = Template.from_stack(options_stack).to_json()
    return data
