"""The CDK app: `cdk deploy` (cdk.json runs `python3 infra/app.py`), or `python infra/app.py`.

Every synthesis runs cdk-nag's AWS Solutions checks; an unacknowledged finding fails it and is
listed in `validation-report.json` in the output folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bootstrap_path() -> None:
    # Run as a script, Python puts infra/ first on sys.path, where infra/constructs would shadow
    # the `constructs` library that aws_cdk imports. Import this app as the package `infra` instead.
    here = ROOT / "infra"
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    for path in (ROOT / "functions", ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


_bootstrap_path()

from aws_cdk import App, Validations  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infercost.domain.errors import InfercostError  # noqa: E402
from infra.config import StackConfig, from_context  # noqa: E402
from infra.infercost_stack import InfercostStack  # noqa: E402


def cdk_json_context(path: Path = ROOT / "cdk.json") -> dict[str, object]:
    """The documented defaults in cdk.json; the CDK CLI passes them itself, `python` does not."""
    context: dict[str, object] = json.loads(path.read_text(encoding="utf-8")).get("context", {})
    return context


def build(app: App) -> InfercostStack:
    """Add the stack (named after the resource prefix) and the cdk-nag checks to `app`."""
    context = {key: app.node.try_get_context(key) for key in _context_keys(app)}
    config: StackConfig = from_context(context)
    stack = InfercostStack(
        app,
        config.resource_prefix,
        config=config,
        description=(
            "infercost: measure SageMaker endpoint configurations, recommend the cheapest that meets the SLO"
        ),
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack


def _context_keys(app: App) -> list[str]:
    # Context set on the app (cdk.json defaults, `-c` values, CDK_CONTEXT_JSON).
    all_context = app.node.get_all_context()
    return [key for key in all_context if key.startswith("infercost:")]


def main() -> int:
    app = App(context=cdk_json_context())
    try:
        build(app)
        app.synth()
    except InfercostError as error:
        print(f"infercost: {error.one_line()}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise
        print(
            f"infercost: cdk-nag findings without an acknowledgment; see {app.outdir}/validation-report.json",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
