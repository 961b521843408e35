"""Dependency layers without Docker: exact pins, Linux wheels for the Lambda runtime, no boto3."""

from __future__ import annotations

import base64
import hashlib
import sys
import zipfile
from pathlib import Path

import pytest

from infercost.errors import InputError
from infra.packaging import (
    PLOTTING_LAYER,
    RUNTIME_LAYER,
    WHEEL_PLATFORMS,
    PipLayerBundler,
    environment_constraints,
    layer_hash,
    layer_requirements,
    normalize,
    pip_command,
    project_pins,
    prune_layer,
)

pytestmark = pytest.mark.infra


def _pyproject(tmp_path: Path, dependencies: list[str]) -> Path:
    path = tmp_path / "pyproject.toml"
    listed = ", ".join(f'"{d}"' for d in dependencies)
    path.write_text(f'[project]\nname = "x"\ndependencies = [{listed}]\n')
    return path


def test_pins_come_from_pyproject(tmp_path: Path) -> None:
    path = _pyproject(tmp_path, ["Aws_Lambda.Powertools==3.37.0", "pydantic == 2.14.4", "numpy==2.4.6"])
    assert project_pins(path) == {
        "aws-lambda-powertools": "3.37.0",
        "pydantic": "2.14.4",
        "numpy": "2.4.6",
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
    for spec in (RUNTIME_LAYER, PLOTTING_LAYER):
        for requirement in layer_requirements(spec.packages, pins):
            name, version = requirement.split("==")
            assert version == pins[normalize(name.split("[")[0])]
    # X-Ray tracing in the Lambda needs the tracer extra of Powertools.
    assert "aws-lambda-powertools[tracer]" in RUNTIME_LAYER.packages


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
    assert "--python-version 3.12" in joined
    assert "--implementation cp" in joined
    assert f"--target {tmp_path / 'python'}" in joined
    for platform in WHEEL_PLATFORMS:
        assert f"--platform {platform}" in joined
    assert "manylinux2014_x86_64" in WHEEL_PLATFORMS


def test_layer_hash_follows_every_input() -> None:
    base = layer_hash(["a==1"], ["b==2"])
    assert base == layer_hash(["a==1"], ["b==2"])
    assert base != layer_hash(["a==2"], ["b==2"])
    assert base != layer_hash(["a==1"], ["b==3"])


def test_pruning_removes_the_runtime_sdk_and_test_suites(tmp_path: Path) -> None:
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
    (tmp_path / "pydantic-2.14.4.dist-info").mkdir()
    (tmp_path / "six.py").write_text("")
    removed = prune_layer(tmp_path)
    assert set(removed) >= {"boto3", "botocore", "s3transfer", "boto3-1.44.8.dist-info"}
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert left == ["numpy", "numpy/core", "pydantic", "pydantic-2.14.4.dist-info", "six.py"]


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


def test_the_bundler_builds_a_layer_with_pip_and_drops_botocore(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "probe", "1.0", requires=["botocore"])
    _wheel(wheels, "botocore", "0.1")
    output = tmp_path / "asset"
    bundler = PipLayerBundler(["probe==1.0"], ["botocore==0.1"], ["--no-index", "--find-links", str(wheels)])
    assert bundler.try_bundle(str(output)) is True
    site = output / "python"
    assert (site / "probe" / "__init__.py").read_text() == "VERSION = '1.0'\n"
    assert not list(site.glob("botocore*"))
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
