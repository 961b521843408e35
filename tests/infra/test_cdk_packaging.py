"""Dependency layers without Docker: exact pins, Linux wheels for the Lambda runtime, the tested
boto3, and every function within Lambda's 250 MB unzipped."""

from __future__ import annotations

import base64
import hashlib
import platform
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from infercost.domain.errors import InputError
from infra.packaging import (
    LAYERS,
    PLOTTING_LAYER,
    RUNTIME_LAYER,
    TOKENIZER_LAYER,
    UNZIPPED_LIMIT_BYTES,
    WHEEL_PLATFORMS,
    LayerSpec,
    PipLayerBundler,
    environment_constraints,
    is_pruned,
    layer_hash,
    layer_requirements,
    normalize,
    pip_command,
    project_pins,
    prune_layer,
)
from tests.infra.cdk_support import Synth, resources_of

pytestmark = pytest.mark.infra


def _pyproject(tmp_path: Path, dependencies: list[str]) -> Path:
    path = tmp_path / "pyproject.toml"
    listed = ", ".join(f'"{d}"' for d in dependencies)
    path.write_text(f'[project]\nname = "x"\ndependencies = [{listed}]\n')
    return path


def test_pins_come_from_pyproject(tmp_path: Path) -> None:
    path = _pyproject(
        tmp_path,
        [
            "Aws_Lambda.Powertools==3.37.0",
            "pydantic == 2.14.4",
            "numpy==2.4.6",
            "uvloop==0.23.0; sys_platform != 'win32'",
        ],
    )
    assert project_pins(path) == {
        "aws-lambda-powertools": "3.37.0",
        "pydantic": "2.14.4",
        "numpy": "2.4.6",
        "uvloop": "0.23.0",  # an environment marker does not hide the pin
    }


def test_an_unpinned_runtime_dependency_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="'pydantic>=2' is not pinned with =="):
        project_pins(_pyproject(tmp_path, ["pydantic>=2"]))


def test_layer_requirements_keep_extras_and_take_the_pin() -> None:
    pins = {"aws-lambda-powertools": "3.37.0", "pydantic": "2.14.4"}
    assert layer_requirements(["aws-lambda-powertools[tracer]", "Pydantic"], pins) == [
        "aws-lambda-powertools[tracer]==3.37.0",
        "Pydantic==2.14.4",
    ]
    with pytest.raises(InputError, match="layer package 'ddsketch' has no pin"):
        layer_requirements(["ddsketch"], pins)
    with pytest.raises(InputError, match="is not a requirement name"):
        layer_requirements(["numpy>=2"], pins)


def test_the_real_layers_are_pinned_by_the_real_pyproject() -> None:
    pins = project_pins()
    for spec in LAYERS:
        for requirement in layer_requirements(spec.packages, pins):
            name, version = requirement.split("==")
            assert version == pins[normalize(name.split("[")[0])]
    # X-Ray tracing in the Lambda needs the tracer extra of Powertools; the load generator runs
    # on the event loop the benchmarks measure.
    assert "aws-lambda-powertools[tracer]" in RUNTIME_LAYER.packages
    assert "uvloop" in RUNTIME_LAYER.packages


class _Dist:
    def __init__(self, name: str, version: str):
        self.metadata = {"Name": name}
        self.version = version


def test_constraints_hold_every_installed_distribution_except_local_ones() -> None:
    dists = [
        _Dist("Wrapt", "2.5.2"),
        _Dist("infercost", "0.1.0"),
        _Dist("mine", "1.0+local"),
        _Dist("six", "1.17.0"),
    ]
    assert environment_constraints(dists) == ["six==1.17.0", "wrapt==2.5.2"]
    installed = environment_constraints()
    assert "pydantic==2.14.4" in installed


def test_pip_installs_linux_wheels_for_the_lambda_python(tmp_path: Path) -> None:
    command = pip_command(tmp_path / "python", tmp_path / "r.txt", tmp_path / "c.txt")
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    joined = " ".join(command)
    assert "--only-binary=:all:" in command
    # No bytecode in the layer: Python compiles at import, and .pyc files would add megabytes.
    assert "--no-compile" in command
    assert "--python-version 3.12" in joined
    assert "--implementation cp" in joined
    assert f"--target {tmp_path / 'python'}" in joined
    for wheel_platform in WHEEL_PLATFORMS:
        assert f"--platform {wheel_platform}" in joined
    assert "manylinux2014_x86_64" in WHEEL_PLATFORMS


def test_layer_hash_follows_every_input() -> None:
    base = layer_hash(["a==1"], ["b==2"])
    assert base == layer_hash(["a==1"], ["b==2"])
    assert base != layer_hash(["a==2"], ["b==2"])
    assert base != layer_hash(["a==1"], ["b==3"])


def test_pruning_removes_test_suites_and_keeps_the_sdk(tmp_path: Path) -> None:
    for folder in (
        "boto3",
        "botocore/data",
        "s3transfer",
        "pydantic",
        "numpy/core/tests",
        "numpy/tests",
    ):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "numpy" / "tests" / "test_x.py").write_text("")
    (tmp_path / "boto3-1.44.8.dist-info").mkdir()
    (tmp_path / "six.py").write_text("")
    removed = prune_layer(tmp_path)
    assert removed == ["numpy/tests", "numpy/core/tests"]
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert left == [
        "boto3",
        "boto3-1.44.8.dist-info",
        "botocore",
        "botocore/data",
        "numpy",
        "numpy/core",
        "pydantic",
        "s3transfer",
        "six.py",
    ]
    assert is_pruned(Path("numpy/tests/test_x.py")) and not is_pruned(Path("numpy/core/x.py"))


def test_the_runtime_layer_ships_the_tested_boto3() -> None:
    # Lambda's own boto3 is another release than the one the tests ran against; the layer's
    # comes first on the path. botocore and s3transfer follow through the constraints.
    pins = project_pins()
    assert f"boto3=={pins['boto3']}" in layer_requirements(RUNTIME_LAYER.packages, pins)
    installed = environment_constraints()
    assert {name.split("==")[0] for name in installed} >= {"boto3", "botocore", "s3transfer", "urllib3"}


def _wheel(folder: Path, name: str, version: str, requires: list[str] = ()) -> None:
    """A minimal pure-Python wheel, so that pip runs for real without the network."""
    dist_info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n",
        f"{dist_info}/METADATA": metadata,
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, content in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(content.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(content.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as archive:
        for path, content in files.items():
            archive.writestr(path, content)


def test_the_bundler_builds_a_layer_with_pip_and_keeps_botocore(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "probe", "1.0", requires=["botocore"])
    _wheel(wheels, "botocore", "0.1")
    output = tmp_path / "asset"
    bundler = PipLayerBundler(["probe==1.0"], ["botocore==0.1"], ["--no-index", "--find-links", str(wheels)])
    assert bundler.try_bundle(str(output)) is True
    site = output / "python"
    assert (site / "probe" / "__init__.py").read_text() == "VERSION = '1.0'\n"
    assert (site / "botocore" / "__init__.py").read_text() == "VERSION = '0.1'\n"
    assert not list(site.rglob("*.pyc"))
    # Only the layer's content is left in the asset folder.
    assert sorted(p.name for p in output.iterdir()) == ["python"]


def test_a_deploy_rebuilds_a_layer_exactly_when_its_inputs_change(monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_cdk import App, Stack

    from infra import packaging

    # CDK's own switch keeps the bundler from running (no network here); the asset keys remain.
    app = App(context={"aws:cdk:bundling-stacks": []})
    keys = {}
    for name, constraints in (("A", ["six==1.17.0"]), ("B", ["six==1.16.0"]), ("C", ["six==1.17.0"])):
        monkeypatch.setattr(packaging, "environment_constraints", lambda c=constraints: c)
        stack = Stack(app, name)
        layer = packaging.dependency_layer(stack, RUNTIME_LAYER, bundle=True)
        keys[name] = stack.resolve(layer.node.default_child.content)["s3Key"]
    assert keys["A"] == keys["C"]
    # A different transitive version is a different layer, uploaded and deployed anew.
    assert keys["A"] != keys["B"]


# Where pip evaluates the layer requirements' markers: Lambda's Python 3.12 on Linux x86_64.
LAMBDA_MARKERS = {
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


def layer_distributions(spec: LayerSpec) -> set[str]:
    """The installed distributions pip puts into the layer: its packages and what they require."""
    from importlib import metadata

    from packaging.requirements import Requirement

    found: set[str] = set()
    pending = [Requirement(r) for r in layer_requirements(spec.packages, project_pins())]
    while pending:
        requirement = pending.pop()
        name = normalize(requirement.name)
        extras = set(requirement.extras)
        if name in found and not extras:
            continue
        found.add(name)
        for text in metadata.distribution(name).requires or []:
            needed = Requirement(text)
            applies = needed.marker is None or any(
                needed.marker.evaluate({**LAMBDA_MARKERS, "extra": extra}) for extra in {"", *extras}
            )
            if applies and normalize(needed.name) not in found:
                pending.append(needed)
    return found


def installed_size_bytes(distributions: set[str]) -> int:
    """What those distributions take in a layer: their files, without bytecode and tests."""
    from importlib import metadata

    total = 0
    for name in distributions:
        for file in metadata.distribution(name).files or []:
            relative = Path(str(file))
            if ".." in relative.parts or relative.suffix == ".pyc" or is_pruned(relative):
                continue
            total += Path(str(file.locate())).stat().st_size
    return total


def folder_size_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_every_function_and_its_layers_stay_under_lambdas_unzipped_limit(
    synth: Synth, template: dict[str, Any]
) -> None:
    # The synthesis for tests does not build the layers (offline); their size is measured from
    # the same distributions installed here, at the versions the build pins them to. This
    # environment's wheels are for its own Python (3.11 here), Lambda's for 3.12, so compiled
    # extensions differ a little: a real build measured 34.7 and 118.8 MiB where this estimate
    # gave 34.6 and 119.6 (docs/deploy.md). The 10 % margin covers that and a few releases.
    assert sys.platform == "linux" and platform.machine() == "x86_64", "measure on Linux x86_64"
    layers = {spec.construct_id: installed_size_bytes(layer_distributions(spec)) for spec in LAYERS}
    sizes = {}
    for name, function in resources_of(template, "AWS::Lambda::Function").items():
        properties = function["Properties"]
        if not properties.get("Handler", "").startswith("infercost.handlers."):
            continue
        code = folder_size_bytes(synth.asset(properties["Code"]["S3Key"].removesuffix(".zip")))
        used = [
            spec.construct_id
            for spec in LAYERS
            if any(spec.construct_id in layer["Ref"] for layer in properties["Layers"])
        ]
        sizes[name] = code + sum(layers[layer] for layer in used)
    mb = {name: round(size / 2**20, 1) for name, size in sizes.items()}
    print(f"layers (MB): { {k: round(v / 2**20, 1) for k, v in layers.items()} }; functions (MB): {mb}")
    over = {name: mb[name] for name, size in sizes.items() if size * 1.1 > UNZIPPED_LIMIT_BYTES}
    assert over == {}, f"over {UNZIPPED_LIMIT_BYTES / 2**20:.0f} MB with a 10 % margin: {over} (all: {mb})"
    assert any("Report" in name for name in sizes)


def test_the_layer_closure_follows_extras_and_markers() -> None:
    closure = layer_distributions(RUNTIME_LAYER)
    # The tracer extra brings the X-Ray SDK; boto3 brings botocore, s3transfer and urllib3.
    assert {"aws-xray-sdk", "botocore", "s3transfer", "urllib3", "pydantic-core"} <= closure
    assert "matplotlib" not in closure
    assert {"numpy", "pillow"} <= layer_distributions(PLOTTING_LAYER)
    assert "tokenizers" in layer_distributions(TOKENIZER_LAYER)
