"""The `infercost` command line as a user runs it: outputs, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infercost.cli import main
from infercost.cli.costs import EXAMPLE_SPEC
from infercost.domain.hardware import EXAMPLE_IMAGES

FIXTURES = Path(__file__).parent.parent / "fixtures"
SEED = FIXTURES / "results" / "densenet_seed.json"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process as the console script does; return (exit code, stdout, stderr)."""
    try:
        main(list(argv))
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(tmp_path: Path, data, name: str = "results.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def seed() -> dict:
    return json.loads(SEED.read_text())


def test_recommend_json_is_the_documented_object(capsys):
    code, out, err = run(capsys, "recommend", str(SEED), "--format", "json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["recommended"]["candidate"] == {
        "instance_type": "ml.c5.large",
        "accelerator_type": "ml.eia2.medium",
        "instance_count": 1,
    }
    assert round(answer["recommended"]["cost_per_100k_usd"], 2) == 0.38
    assert answer["recommended"]["cost_per_100k_usd"] == pytest.approx(0.287 / 3600 * 0.04785 * 100_000)
    assert {"candidate", "price_per_hour_usd", "cost_per_100k_usd", "meets_slo"} <= set(answer["ranked"][0])
    assert [item["meets_slo"] for item in answer["ranked"]] == [True, True, False]
    assert isinstance(answer["reason"], str) and answer["reason"]


def test_recommend_table_rounds_money_to_cents_and_explains(capsys):
    code, out, _ = run(capsys, "recommend", str(SEED))
    assert code == 0
    assert "$0.38" in out and "Recommended: ml.c5.large + ml.eia2.medium" in out
    assert "P90 ms" in out
    assert "closed to new customers" in out


def test_recommend_markdown_rows_have_exactly_the_header_cells(capsys):
    code, out, _ = run(capsys, "recommend", str(SEED), "--format", "markdown")
    assert code == 0
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 3
    assert len({line.count(" | ") for line in table}) == 1


def test_slo_option_overrides_and_nothing_meeting_it_still_exits_zero(capsys):
    code, out, _ = run(capsys, "recommend", str(SEED), "--slo", "p99:10", "--format", "json")
    assert code == 0
    answer = json.loads(out)
    assert answer["recommended"] is None
    assert "No candidate of 3 meets P99 ≤ 10 ms" in answer["reason"]


def test_prices_come_from_the_price_book_when_the_file_has_none(capsys, tmp_path):
    data = seed()
    for entry in data["results"]:
        entry.pop("price_per_hour_usd")
    code, out, err = run(capsys, "recommend", write(tmp_path, data), "--format", "json")
    assert code == 0, err
    ranked = {item["label"]: item for item in json.loads(out)["ranked"]}
    assert ranked["ml.c5.xlarge"]["price_source"] == "snapshot"
    assert ranked["ml.c5.xlarge"]["price_per_hour_usd"] > 0


def test_price_overrides_file_and_region(capsys, tmp_path):
    data = seed()
    for entry in data["results"]:
        entry.pop("price_per_hour_usd")
    overrides = write(tmp_path, {"instances": {"ml.g4dn.xlarge": 0.01}}, "prices.json")
    code, out, err = run(
        capsys, "recommend", write(tmp_path, data), "--prices", overrides, "--format", "json"
    )
    assert code == 0, err
    answer = json.loads(out)
    # At one cent an hour the GPU becomes the cheapest candidate meeting the SLO.
    assert answer["recommended"]["label"] == "ml.g4dn.xlarge"
    assert answer["recommended"]["price_source"] == "override"
    code, out, _ = run(
        capsys, "recommend", write(tmp_path, data), "--region", "eu-west-1", "--format", "json"
    )
    assert code == 0
    assert json.loads(out)["region"] == "us-east-1"  # the file names its region; prices follow --region


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: "{not json",
            "is not valid JSON: Expecting property name enclosed in double quotes at line 1",
        ),
        (
            lambda d: d["results"][0]["candidate"].update(instance_type="ml.c5.larj") or d,
            "results[0].candidate.instance_type: unknown instance type 'ml.c5.larj'",
        ),
        (
            lambda d: d["slo"].update(percentile="p42") or d,
            "slo.percentile: must be one of p50, p90, p95, p99, max",
        ),
        (
            lambda d: d["slo"].update(max_latency_ms=0) or d,
            "slo.max_latency_ms: Input should be greater than 0",
        ),
        (
            lambda d: d["slo"].update(max_latency_ms=-5) or d,
            "slo.max_latency_ms: Input should be greater than 0",
        ),
        (
            lambda d: d["results"][1]["latency_ms"].pop("avg") and d,
            "results[1].latency_ms.avg: Field required",
        ),
        (
            lambda d: d["results"][2]["latency_ms"].update(p90=-3) or d,
            "results[2].latency_ms.p90: Input should be greater than or equal to 0",
        ),
        (lambda d: d.update(results=[]) or d, "results: no results"),
        (lambda d: d["results"][0]["latency_ms"].pop("p90") and d, "results[0].latency_ms.p90: missing"),
    ],
)
def test_bad_results_are_one_line_naming_the_field_and_exit_2(capsys, tmp_path, mutate, expected):
    data = mutate(seed())
    if isinstance(data, dict):
        for entry in data.get("results", []):
            entry.pop("price_per_hour_usd", None)
    code, out, err = run(capsys, "recommend", write(tmp_path, data), "--format", "json")
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and expected in lines[0]
    assert "Traceback" not in err


def test_missing_file_and_bad_slo_option(capsys, tmp_path):
    code, _, err = run(capsys, "recommend", str(tmp_path / "nope.json"))
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "recommend", str(SEED), "--slo", "p42:80")
    assert code == 2 and "--slo.percentile: must be one of" in err


def test_spec_example_is_valid_and_validates(capsys, tmp_path):
    code, out, _ = run(capsys, "spec", "example")
    assert code == 0
    assert json.loads(out) == EXAMPLE_SPEC
    code, out, err = run(capsys, "spec", "validate", write(tmp_path, out, "infercost.json"))
    assert code == 0, err
    assert "valid" in out and "5 candidates" in out


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"candidates": []}, "candidates: give at least one candidate"),
        ({"load": {"requests": 0}}, "load.requests: Input should be greater than or equal to 1"),
        (
            {"candidates": [{"instance_type": "ml.c5.hugexl"}]},
            "candidates[0].instance_type: unknown instance type",
        ),
        (
            {"candidates": [{"instance_type": "ml.c5.large", "accelerator_type": "ml.eia2.tiny"}]},
            "candidates[0].accelerator_type: String should match pattern",
        ),
        ({"slo": {"percentile": "p42", "max_latency_ms": 80}}, "slo.percentile: must be one of"),
    ],
)
def test_spec_validate_names_the_bad_field(capsys, tmp_path, change, expected):
    code, _, err = run(capsys, "spec", "validate", write(tmp_path, EXAMPLE_SPEC | change, "infercost.json"))
    assert code == 2
    assert expected in err and len(err.strip().splitlines()) == 1


def test_spec_validate_refuses_elastic_inference_and_names_what_to_use(capsys, tmp_path):
    spec = EXAMPLE_SPEC | {
        "candidates": [{"instance_type": "ml.c5.large", "accelerator_type": "ml.eia2.medium"}]
    }
    code, _, err = run(capsys, "spec", "validate", write(tmp_path, spec, "infercost.json"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "candidates[0].accelerator_type: Amazon Elastic Inference is no longer available" in err
    assert "ml.g5.xlarge" in err and "ml.inf2.xlarge" in err


X86_CPU = EXAMPLE_IMAGES["cpu"]


@pytest.mark.parametrize(
    ("model", "candidates", "line"),
    [
        # An x86 image on Graviton cannot start.
        (
            {"image_uri": X86_CPU},
            [{"instance_type": "ml.c7g.large"}],
            "candidates[0]: ml.c7g.large is a Graviton",
        ),
        # The reverse.
        (
            {"image_uri": EXAMPLE_IMAGES["arm64"]},
            [{"instance_type": "ml.c6i.large"}],
            "candidates[0]: ml.c6i.large is an x86 CPU instance but model.image_uri is an arm64",
        ),
        # A Neuron image off Neuron hardware, from a candidate's own container.
        (
            {"image_uri": X86_CPU},
            [{"instance_type": "ml.g5.xlarge", "container": {"image_uri": EXAMPLE_IMAGES["neuron"]}}],
            "candidates[0].container.image_uri is a Neuron image",
        ),
        # A GPU image on a CPU (serverless runs on x86 CPUs).
        (
            {"images": {"cpu": EXAMPLE_IMAGES["gpu"]}},
            [{"serverless": {"memory_mb": 2048}}],
            "model.images.cpu is a GPU",
        ),
    ],
)
def test_spec_validate_refuses_an_image_that_cannot_run_on_its_hardware(
    capsys, tmp_path, model, candidates, line
):
    spec = EXAMPLE_SPEC | {"model": {"name": "m", **model}, "candidates": candidates}
    code, _, err = run(capsys, "spec", "validate", write(tmp_path, spec, "infercost.json"))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert line in err and "set model.images." in err


def test_spec_validate_warns_when_an_image_wastes_the_accelerator(capsys, tmp_path):
    spec = EXAMPLE_SPEC | {
        "model": {"name": "m", "image_uri": X86_CPU},
        "candidates": [
            {"instance_type": "ml.g5.xlarge"},
            {"instance_type": "ml.inf2.xlarge"},
            {"instance_type": "ml.c6i.large"},
        ],
    }
    code, out, _ = run(capsys, "spec", "validate", write(tmp_path, spec, "infercost.json"))
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    assert code == 0 and len(warnings) == 2
    assert warnings[0].startswith("warning: candidates[0]: ml.g5.xlarge has NVIDIA GPUs but model.image_uri")
    assert "candidates[1]: ml.inf2.xlarge has AWS Neuron" in out


@pytest.mark.parametrize(
    ("change", "line"),
    [
        ({"model": {"name": "m", "image_uri": "nginx:latest"}}, "model.image_uri: must be an ECR image"),
        ({"model": {"name": "m", "images": {"tpu": X86_CPU}}}, "model.images: unknown hardware kind 'tpu'"),
        (
            {
                "model": {"name": "m", "image_uri": X86_CPU},
                "candidates": [
                    {
                        "instance_type": "ml.c6i.large",
                        "container": {"model_data_key": "s3://other/model.tar.gz"},
                    }
                ],
            },
            "candidates[0].container.model_data_key: must be a key in the artifacts bucket",
        ),
        (
            {
                "model": {"name": "m", "images": {"cpu": X86_CPU}},
                "candidates": [{"instance_type": "ml.g5.xlarge"}],
            },
            "candidates[0]: ml.g5.xlarge (gpu) has no image: set model.images.gpu",
        ),
    ],
)
def test_bad_image_settings_are_one_line_with_the_path(capsys, tmp_path, change, line):
    code, _, err = run(capsys, "spec", "validate", write(tmp_path, EXAMPLE_SPEC | change, "infercost.json"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and line in err, err
    assert "Traceback" not in err


def test_the_example_spec_and_the_default_candidates_pass_the_image_checks(capsys, tmp_path):
    code, out, _ = run(capsys, "spec", "validate", write(tmp_path, EXAMPLE_SPEC, "infercost.json"))
    assert code == 0 and "warning" not in out
    defaults = {key: value for key, value in EXAMPLE_SPEC.items() if key != "candidates"}
    code, out, _ = run(capsys, "spec", "validate", write(tmp_path, defaults, "defaults.json"))
    assert code == 0 and "7 candidates" in out and "warning" not in out


def test_prices_lists_a_family_with_list_prices(capsys):
    code, out, _ = run(capsys, "prices", "--family", "serverless", "--format", "json")
    assert code == 0
    rows = json.loads(out)["prices"]
    assert {row["kind"] for row in rows} == {"serverless"}
    code, out, _ = run(capsys, "prices", "--family", "g5")
    assert code == 0 and "ml.g5.xlarge" in out and "ml.c5.large" not in out


def test_prices_unknown_region_suggests_the_closest(capsys):
    code, _, err = run(capsys, "prices", "--region", "us-eest-1")
    assert code == 2 and "did you mean" in err and "us-east-1" in err


def test_plan_prints_the_estimate_and_refuses_over_budget(capsys, tmp_path):
    spec_path = write(tmp_path, EXAMPLE_SPEC, "infercost.json")
    code, out, err = run(capsys, "plan", spec_path, "--format", "json")
    assert code == 0, err
    plan = json.loads(out)
    assert len(plan["candidates"]) == 5 and plan["within_budget"]
    assert [s["name"].split(" ")[0] for s in plan["strategies"]] == ["infercost", "seed", "SageMaker"]
    code, out, err = run(
        capsys, "plan", write(tmp_path, EXAMPLE_SPEC | {"max_benchmark_cost_usd": 0.05}, "s.json")
    )
    assert code == 2
    assert "The same benchmark, three ways" in out
    assert "release wait" in out and "metrics wait" in out
    assert "the metrics wait comes after the endpoint is deleted" in " ".join(out.split())
    assert "max_benchmark_cost_usd: the estimated benchmark cost" in err


def test_plan_bills_the_endpoint_until_its_release_not_through_the_metrics_wait(capsys, tmp_path):
    code, out, err = run(capsys, "plan", write(tmp_path, EXAMPLE_SPEC, "infercost.json"), "--format", "json")
    assert code == 0, err
    plan = json.loads(out)
    assumed = plan["assumptions"]
    c7g = plan["candidates"][0]
    # 1100 serial requests and 1000 at each of 2/4/8/16 in flight, 85 ms each.
    assert c7g["load_s"] == pytest.approx(1100 * 0.085 + 1000 * 0.085 * (1 / 2 + 1 / 4 + 1 / 8 + 1 / 16))
    release = assumed["minute_close_s"] + 30  # the workflow's default metrics_flush_seconds
    assert c7g["release_wait_s"] == release == 60
    assert c7g["endpoint_seconds"] == pytest.approx(
        assumed["cpu_endpoint_create_s"] + c7g["load_s"] + release + assumed["teardown_s"]
    )
    assert c7g["metrics_wait_s"] == pytest.approx(assumed["metrics_settle_s"])
    # Before ReleaseEndpoint each of the 5 endpoints also lived through the 60 s metrics delay and
    # the settle time instead of the release wait: 5 × (60 + 120 - 60) s = 10 minutes more.
    kept = sum(
        c["create_s"] + c["load_s"] + 60 + assumed["metrics_settle_s"] + assumed["teardown_s"]
        for c in plan["candidates"]
    )
    assert kept - plan["endpoint_seconds"] == pytest.approx(5 * (60 + assumed["metrics_settle_s"] - release))
    assert plan["endpoint_seconds"] == pytest.approx(3445.9375)  # 58 min (1 h 08 min before)


def test_help_lists_the_commands(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("recommend", "prices", "plan", "spec", "loadtest", "history", "show", "report", "demo"):
        assert command in out


def test_console_script_runs_as_a_user_would(tmp_path):
    script = Path(sys.executable).parent / "infercost"
    done = subprocess.run(
        [str(script), "recommend", str(SEED), "--format", "json"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["recommended"]["label"] == "ml.c5.large + ml.eia2.medium"
    bad = subprocess.run(
        [str(script), "recommend", str(tmp_path / "x.json")], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr


# One answer: objective, traffic, serving, what to deploy --------------------------------------

DAY = [2, 1.2, 0.8, 0.8, 1.2, 2.4, 6, 12, 20, 28, 32, 36, 40, 36, 32, 32, 28, 24, 16, 12, 8, 6, 4, 2.8]


def test_recommend_with_an_imported_traffic_file_answers_per_month(capsys, tmp_path):
    traffic = write(tmp_path, {"traffic": {"hourly_rps": DAY}}, "traffic.json")
    code, out, _ = run(capsys, "recommend", str(SEED), "--traffic", traffic, "--format", "json")
    assert code == 0
    answer = json.loads(out)
    assert answer["objective"] == "monthly" and answer["traffic"]["peak_rps"] == 40
    assert answer["serving"]["mode"] == "realtime" and answer["serving"]["policy"]["min_capacity"] >= 1
    assert set(answer["winners"]) == {"monthly", "per-inference"}
    assert answer["recommended"]["label"] == answer["winners"]["monthly"]


def test_recommend_objective_per_inference_keeps_the_published_answer(capsys, tmp_path):
    traffic = write(tmp_path, {"hourly_rps": DAY}, "traffic.json")
    _, plain, _ = run(capsys, "recommend", str(SEED), "--format", "json")
    code, out, _ = run(
        capsys,
        "recommend",
        str(SEED),
        "--traffic",
        traffic,
        "--objective",
        "per-inference",
        "--format",
        "json",
    )
    assert code == 0
    assert [r["label"] for r in json.loads(out)["ranked"]] == [
        r["label"] for r in json.loads(plain)["ranked"]
    ]


def test_recommend_emits_a_cloudformation_template(capsys, tmp_path):
    traffic = write(tmp_path, {"hourly_rps": DAY}, "traffic.json")
    code, out, _ = run(capsys, "recommend", str(SEED), "--traffic", traffic, "--emit", "cloudformation")
    assert code == 0
    body = json.loads(out)
    assert body["AWSTemplateFormatVersion"] == "2010-09-09"
    assert body["Resources"]["TargetTrackingPolicy"]["Type"] == "AWS::ApplicationAutoScaling::ScalingPolicy"


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--objective", "cheapest"], "--objective: unknown objective 'cheapest'"),
        (["--objective", "monthly"], "objective: the monthly objective needs a traffic profile"),
        (["--objective", "throughput"], "needs a concurrency sweep"),
        (["--emit", "terraform"], "--emit: unknown --emit 'terraform'"),
    ],
)
def test_recommend_objective_and_emit_errors_are_one_line(capsys, extra, words):
    code, out, err = run(capsys, "recommend", str(SEED), *extra)
    assert code == 2 and out == ""
    assert words in err and len(err.strip().splitlines()) <= 2


def test_a_bad_traffic_curve_names_the_field(capsys, tmp_path):
    traffic = write(tmp_path, {"hourly_rps": [1] * 23}, "traffic.json")
    code, _, err = run(capsys, "recommend", str(SEED), "--traffic", traffic)
    assert code == 2 and "--traffic.hourly_rps" in err and "give 24" in err
