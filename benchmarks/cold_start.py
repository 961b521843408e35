"""Import time of each Lambda handler module in a fresh interpreter, against bare `import boto3`.

    .venv/bin/python benchmarks/cold_start.py [--repeat 10]

For every module of `HANDLERS` and the janitor, and for `boto3`, runs
`python -X importtime -c "import <module>"` `--repeat` times (interleaved, so load drifts hit every
module alike) in a Lambda-like environment (`AWS_LAMBDA_FUNCTION_NAME` set, so Powertools' Tracer
is on as it is with the stack's active tracing, and `LAMBDA_TASK_ROOT`, by which the X-Ray SDK
chooses its Lambda context). Two measures, medians over the repeats:

- *import time*: the sum of the cumulative times of the top-level imports `-X importtime` lists,
  leaving out those an empty interpreter (`-c pass`) makes at startup;
- *process wall time*: the wall time of the whole `python -c "import <module>"` process minus that
  of `python -c pass`.

The ratio to bare `import boto3` is taken per repeat and its median reported; a third measure,
`import boto3; import <module>`, gives what a handler adds to a function that imports boto3
anyway (the sum of the top-level imports after boto3's). The heaviest
packages (self time summed by top-level package) of each module show what it pulls in.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from _common import (
    argument_parser,
    command_line,
    describe_machine,
    load_average,
    machine,
    publish,
    show,
    spread,
    table,
)
from infercost.handlers import HANDLERS, JANITOR

GOAL_RATIO = 1.3
BASELINE = "boto3"
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")


def lambda_env() -> dict[str, str]:
    """The environment a function of the stack imports its handler in (no AWS calls are made)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "INFERCOST_", "POWERTOOLS_", "PYTHON"))
    }
    env.update(
        AWS_LAMBDA_FUNCTION_NAME="infercost-bench",
        # The X-Ray SDK picks its Lambda context and local sampler by this variable.
        LAMBDA_TASK_ROOT="/var/task",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024",
        AWS_EXECUTION_ENV="AWS_Lambda_python3.12",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        POWERTOOLS_SERVICE_NAME="infercost",
        POWERTOOLS_METRICS_NAMESPACE="infercost",
        # As the stack sets it (infra/constructs/functions.py): no plugin scan at first build.
        PYDANTIC_DISABLE_PLUGINS="__all__",
    )
    return env


def parse_importtime(stderr: str) -> list[tuple[str, int, int, int]]:
    """(module, self µs, cumulative µs, depth) for each line of -X importtime."""
    rows = []
    for line in stderr.splitlines():
        match = _LINE.match(line)
        if match:
            depth = (len(match.group(3)) - 1) // 2
            rows.append((match.group(4), int(match.group(1)), int(match.group(2)), depth))
    return rows


def one_run(code: str, env: dict[str, str]) -> tuple[float, list[tuple[str, int, int, int]]]:
    """Wall seconds of `python -X importtime -c code`, and its importtime rows."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"`{code}` failed: {done.stderr.strip().splitlines()[-1:]}")
    return wall, parse_importtime(done.stderr)


def import_ms(rows: list[tuple[str, int, int, int]], startup: set[str]) -> float:
    """Sum of top-level cumulative times, without the imports of interpreter startup."""
    return sum(cumulative for name, _, cumulative, depth in rows if depth == 0 and name not in startup) / 1000


def after_baseline_ms(rows: list[tuple[str, int, int, int]]) -> float:
    """Sum of the top-level cumulative times after `import boto3` finished (what the module adds)."""
    names = [name for name, _, _, depth in rows if depth == 0]
    if BASELINE not in names:
        raise SystemExit("`import boto3` left no top-level entry in -X importtime's report")
    tops = [(name, cumulative) for name, _, cumulative, depth in rows if depth == 0]
    index = max(i for i, (name, _) in enumerate(tops) if name == BASELINE)
    return sum(cumulative for _, cumulative in tops[index + 1 :]) / 1000


def heaviest(
    rows: list[tuple[str, int, int, int]], startup: set[str], count: int = 6
) -> list[tuple[str, float]]:
    """Self time summed by top-level package (ms), largest first."""
    by_package: Counter[str] = Counter()
    for name, self_us, _, _ in rows:
        if name not in startup:
            by_package[name.split(".")[0]] += self_us
    return [(name, us / 1000) for name, us in by_package.most_common(count)]


def measure(repeat: int) -> dict[str, Any]:
    env = lambda_env()
    modules = [BASELINE] + [f"infercost.handlers.{m}" for m in [*HANDLERS.values(), JANITOR]]
    empty_walls: list[float] = []
    startup: set[str] = set()
    walls: dict[str, list[float]] = {m: [] for m in modules}
    imports: dict[str, list[float]] = {m: [] for m in modules}
    added: dict[str, list[float]] = {m: [] for m in modules[1:]}
    samples: dict[str, list[tuple[str, int, int, int]]] = {}
    for index in range(repeat):
        wall, rows = one_run("pass", env)
        empty_walls.append(wall)
        startup |= {name for name, *_ in rows}
        # Rotate the order so that no module always runs right after the same one.
        order = modules[index % len(modules) :] + modules[: index % len(modules)]
        for module in order:
            wall, rows = one_run(f"import {module}", env)
            walls[module].append(wall)
            samples.setdefault(module, rows)
            imports[module].append(import_ms(rows, startup))
            if module != BASELINE:
                _, rows = one_run(f"import {BASELINE}; import {module}", env)
                added[module].append(after_baseline_ms(rows))
        print(f"repeat {index + 1}/{repeat} done", file=sys.stderr)
    empty_ms = statistics.median(empty_walls) * 1000
    results = []
    for module in modules:
        wall_ms = [w * 1000 - empty_ms for w in walls[module]]
        results.append(
            {
                "module": module,
                "import_ms": spread(imports[module]),
                "wall_minus_empty_ms": spread(wall_ms),
                "ratio_import": spread(
                    [mine / base for mine, base in zip(imports[module], imports[BASELINE], strict=True)]
                ),
                "ratio_wall": spread(
                    [
                        (mine * 1000 - empty_ms) / (base * 1000 - empty_ms)
                        for mine, base in zip(walls[module], walls[BASELINE], strict=True)
                    ]
                ),
                "added_to_boto3_ms": spread(added[module]) if module in added else None,
                "heaviest_packages_ms": heaviest(samples[module], startup),
            }
        )
    return {"empty_interpreter_ms": spread([w * 1000 for w in empty_walls]), "modules": results}


def markdown(data: dict[str, Any]) -> str:
    rows = []
    for item in data["modules"]:
        name = item["module"].removeprefix("infercost.handlers.")
        verdict = (
            "baseline"
            if item["module"] == BASELINE
            else ("met" if item["ratio_import"]["median"] <= GOAL_RATIO else "**missed**")
        )
        rows.append(
            [
                f"`{name}`",
                show(item["import_ms"]),
                show(item["ratio_import"], "{:.2f}"),
                show(item["wall_minus_empty_ms"]),
                show(item["ratio_wall"], "{:.2f}"),
                show(item["added_to_boto3_ms"]) if item["added_to_boto3_ms"] else "—",
                verdict,
                ", ".join(f"{pkg} {ms:.0f}" for pkg, ms in item["heaviest_packages_ms"][:4]),
            ]
        )
    body = table(
        [
            "module",
            "import time (ms)",
            "÷ boto3",
            "process wall − empty (ms)",
            "÷ boto3",
            "added after `import boto3` (ms)",
            "goal ≤ 1.3× (median, import time)",
            "heaviest packages, self ms (one run)",
        ],
        rows,
    )
    return (
        f"Command: `{data['command']}`  \n"
        f"Machine: {describe_machine(data['machine'], load_after=data['load_after'])}.  \n"
        f"{data['repeat']} fresh interpreters per module, interleaved; cells are min / median / max. "
        "*Import time* is the sum of the top-level cumulative times `-X importtime` reports, "
        "without the interpreter's own startup imports; *process wall − empty* is the wall time of "
        f'`python -c "import …"` minus that of `python -c pass` (median {data["empty_interpreter_ms"]["median"]:.0f} ms). '
        "Ratios are taken against `import boto3` in the same repeat. *Added after `import boto3`* is "
        "the import time of the module in an interpreter that has just imported boto3: what the "
        "handler adds to a function that needs boto3 anyway.\n\n"
        f"{body}"
    )


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    if not 1 <= args.repeat <= 50:
        parser.error("--repeat must be 1..50")
    info = machine()
    measured = measure(args.repeat)
    data = {
        "command": command_line(),
        "machine": info,
        "load_after": load_average(),
        "repeat": args.repeat,
        **measured,
    }
    publish("cold_start", data, markdown, section="cold_start", no_doc=args.no_doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
