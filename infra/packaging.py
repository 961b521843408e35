"""Lambda packaging without Docker: the function code asset and pip-built dependency layers.

No Docker engine exists on the machines that build infercost, so each dependency layer is built
by CDK *local bundling*: pip downloads Linux wheels for the Lambda runtime (`--platform`,
`--only-binary=:all:`) into the layer. The versions are the ones pyproject.toml pins, and every
transitive dependency is held to the version installed where the app runs — the environment
the tests ran in — so what is deployed is what was tested. That includes boto3, botocore and
s3transfer: the copy in the layer is imported before the Lambda runtime's own (/opt/python
comes first on the path), which is a different release than the tested one.

A function and its layers may unpack to at most 250 MB
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html); layers are built
without bytecode (`--no-compile`: Python compiles at import) and without the packages' test
suites, and a test adds up each function's size.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infercost.domain.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
PYPROJECT = ROOT / "pyproject.toml"
# The layer asset's source: a folder that says what the layers are; pip writes the real content.
LAYER_SOURCE_DIR = Path(__file__).resolve().parent / "layers"

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.X86_64
LAMBDA_PYTHON_VERSION = "3.12"
# Lambda's python3.12 runs on Amazon Linux 2023 (glibc 2.34): every manylinux tag up to 2.34 fits.
# pip does not widen a --platform to older tags by itself, so each is listed.
WHEEL_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64")
# A function's code and layers, unzipped, may take at most this (Lambda quotas, "Deployment
# package (.zip file archive) size": 250 MB unzipped, including layers; AccountLimit's
# CodeSizeUnzipped counts bytes, 250 × 1024 × 1024).
UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024

# Files of functions/ that are not code the Lambda runs.
CODE_EXCLUDES = [
    "*.egg-info",
    "**/__pycache__",
    "**/*.pyc",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
]


@dataclass(frozen=True)
class LayerSpec:
    """A dependency layer: its construct id and the packages (pip requirement names) it carries."""

    construct_id: str
    packages: tuple[str, ...]
    description: str


# Every function: the tested AWS SDK, settings, validation, Powertools with its X-Ray tracer,
# latency sketches.
RUNTIME_LAYER = LayerSpec(
    "RuntimeDependencies",
    (
        "boto3",
        "aws-lambda-powertools[tracer]",
        "pydantic",
        "pydantic-settings",
        "ddsketch",
        "protobuf",
        "httptools",
        "uvloop",
    ),
    "infercost runtime dependencies: boto3, Powertools (tracer), pydantic (settings), ddsketch (protobuf), "
    "httptools, uvloop",
)
# Only the Report function draws charts; matplotlib and numpy are most of the bytes.
PLOTTING_LAYER = LayerSpec(
    "PlottingDependencies",
    ("matplotlib", "numpy"),
    "infercost report dependencies: matplotlib, numpy",
)


def normalize(name: str) -> str:
    """PEP 503 name normalisation: 'Aws_Lambda.Powertools' -> 'aws-lambda-powertools'."""
    return re.sub(r"[-_.]+", "-", name).lower()


# 'name[extras]==version', optionally with an environment marker ('; sys_platform != "win32"').
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*==\s*([^\s;,]+)\s*(;.*)?$")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*$")


# Extras whose packages go into a layer (their pins count like the runtime dependencies').
LAYER_EXTRAS = ("llm",)


def project_pins(pyproject: Path = PYPROJECT) -> dict[str, str]:
    """The `name -> version` pins of pyproject.toml's runtime dependencies and layer extras."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    pins: dict[str, str] = {}
    extras = data["project"].get("optional-dependencies", {})
    for requirement in [
        *data["project"]["dependencies"],
        *(r for e in LAYER_EXTRAS for r in extras.get(e, [])),
    ]:
        match = _PIN.match(requirement)
        if match is None:
            raise InputError(
                f"runtime dependency {requirement!r} is not pinned with ==",
                field="pyproject.toml [project].dependencies",
                hint="layers are built from exact versions",
            )
        pins[normalize(match.group(1))] = match.group(3)
    return pins


def layer_requirements(packages: Iterable[str], pins: dict[str, str]) -> list[str]:
    """Pin each layer package to pyproject's version: 'pydantic' -> 'pydantic==2.14.4'."""
    requirements = []
    for package in packages:
        match = _NAME.match(package)
        if match is None:
            raise InputError(f"{package!r} is not a requirement name", field="layer packages")
        name, extras = match.group(1), match.group(2) or ""
        version = pins.get(normalize(name))
        if version is None:
            raise InputError(
                f"layer package {name!r} has no pin in pyproject.toml",
                field="pyproject.toml [project].dependencies",
                hint=f"add '{name}==<version>' to the runtime dependencies",
            )
        requirements.append(f"{name}{extras}=={version}")
    return requirements


# What reads a `tokenizer.json` to count an LLM workload's tokens (Prepare checks it, the load
# functions count with it); the built-in whitespace and bytes tokenizers need nothing.
TOKENIZER_LAYER = LayerSpec(
    "TokenizerDependencies",
    ("tokenizers",),
    "infercost LLM token counting: Hugging Face tokenizers",
)
LAYERS = (RUNTIME_LAYER, PLOTTING_LAYER, TOKENIZER_LAYER)


def environment_constraints(distributions: Iterable[Any] | None = None) -> list[str]:
    """`name==version` of each distribution installed here, i.e. what the tests ran against."""
    found: dict[str, str] = {}
    for dist in distributions if distributions is not None else metadata.distributions():
        name = dist.metadata["Name"]
        version = dist.version
        # Local versions ('1.0+local') and editable checkouts are not on PyPI.
        if not name or "+" in version or normalize(name) == "infercost":
            continue
        found[normalize(name)] = version
    return [f"{name}=={found[name]}" for name in sorted(found)]


def pip_command(
    target: Path, requirements: Path, constraints: Path, index_options: Sequence[str] = ()
) -> list[str]:
    """The pip call that fills a layer with Linux wheels for the Lambda runtime."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += list(index_options)
    command += ["--no-input", "--upgrade", "--no-compile", "--target", str(target)]
    command += ["--python-version", LAMBDA_PYTHON_VERSION, "--implementation", "cp"]
    for platform in WHEEL_PLATFORMS:
        command += ["--platform", platform]
    command += ["--only-binary=:all:", "--requirement", str(requirements)]
    command += ["--constraint", str(constraints)]
    return command


def is_pruned(relative: Path) -> bool:
    """Whether `prune_layer` deletes this file of a layer: it is in a package's `tests` folder."""
    return "tests" in relative.parts[1:-1]


def prune_layer(site: Path) -> list[str]:
    """Delete the packages' own test suites from a layer.

    The test suites of numpy and matplotlib alone are 20 MB of the 250 MB a function may unpack.
    """
    removed = []
    for tests in sorted(site.glob("*/**/tests"), reverse=True):
        if tests.is_dir():
            _delete(tests)
            removed.append(str(tests.relative_to(site)))
    return removed


def _delete(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


@jsii.implements(ILocalBundling)
class PipLayerBundler:
    """Builds a layer on this machine with pip; CDK calls `try_bundle` instead of running Docker."""

    def __init__(
        self,
        requirements: Sequence[str],
        constraints: Sequence[str],
        index_options: Sequence[str] = (),
    ):
        self.requirements = list(requirements)
        self.constraints = list(constraints)
        # e.g. ["--no-index", "--find-links", DIR] to build from local wheels.
        self.index_options = list(index_options)

    def try_bundle(self, output_dir: str, *options: Any, **keywords: Any) -> bool:
        # jsii hands over the BundlingOptions, which a pip build does not need.
        output = Path(output_dir)
        site = output / "python"
        site.mkdir(parents=True, exist_ok=True)
        requirements = output / "requirements.txt"
        constraints = output / "constraints.txt"
        requirements.write_text("\n".join(self.requirements) + "\n", encoding="utf-8")
        constraints.write_text("\n".join(self.constraints) + "\n", encoding="utf-8")
        try:
            command = pip_command(site, requirements, constraints, self.index_options)
            subprocess.run(command, check=True, timeout=900)
        finally:
            requirements.unlink()
            constraints.unlink()
        prune_layer(site)
        return True


def layer_hash(requirements: Sequence[str], constraints: Sequence[str]) -> str:
    """Changes whenever anything that decides the layer's bytes changes."""
    parts = [*requirements, "--", *constraints, "--", LAMBDA_PYTHON_VERSION, *WHEEL_PLATFORMS]
    parts += ["--", "no-compile", "prune-tests"]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def dependency_layer(scope: Construct, spec: LayerSpec, *, bundle: bool) -> lambda_.LayerVersion:
    """A layer with `spec.packages` for the Lambda runtime, built by pip unless `bundle` is off.

    `bundle=False` is for tests only: the layer then holds just its README, which keeps
    synthesis offline and quick but is not deployable.
    """
    requirements = layer_requirements(spec.packages, project_pins())
    if bundle:
        constraints = environment_constraints()
        code = lambda_.Code.from_asset(
            str(LAYER_SOURCE_DIR),
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=layer_hash(requirements, constraints),
            bundling=BundlingOptions(
                # Never pulled: local bundling always succeeds or raises.
                image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
                local=PipLayerBundler(requirements, constraints),
            ),
        )
    else:
        code = lambda_.Code.from_asset(str(LAYER_SOURCE_DIR))
    return lambda_.LayerVersion(
        scope,
        spec.construct_id,
        code=code,
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        description=f"{spec.description} ({', '.join(requirements)})"[:256],
    )


def function_code() -> lambda_.Code:
    """The `functions/` folder as the code of every handler (package `infercost` at its root)."""
    return lambda_.Code.from_asset(str(FUNCTIONS_DIR), exclude=CODE_EXCLUDES)
