#!/usr/bin/env bash
# Every benchmark in turn (`make bench`); each rewrites its section of docs/benchmarks.md and its
# raw figures in benchmarks/results/. About 10-12 minutes on 2 cores. Other work on the machine
# skews the figures: each section records the load average before and after it ran.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}

started=$(date +%s)
for script in timeline cold_start loadgen_vs_wrk invoke_tls workflow_scale; do
    echo "== benchmarks/${script}.py (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    "$PYTHON" "benchmarks/${script}.py" > /dev/null
done
echo "== done in $(( $(date +%s) - started )) s; figures in docs/benchmarks.md" >&2
