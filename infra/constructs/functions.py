"""One Lambda function per handler of `infercost.handlers.HANDLERS`, plus the janitor.

`FUNCTION_SPECS` is the one table that says, per handler module, how big the function is, how
long it may run and what it may do. A handler without a row fails synthesis with a message
that says where to add it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infercost.data.environment import env_name
from infercost.domain.errors import InputError
from infercost.handlers import HANDLERS, JANITOR
from infra import nag
from infra.concurrency import FanOut, check_total, reserved_concurrency
from infra.config import StackConfig
from infra.constructs import permissions as p
from infra.constructs.encryption import function_log_group_name
from infra.packaging import (
    ARCHITECTURE,
    PLOTTING_LAYER,
    RUNTIME,
    RUNTIME_LAYER,
    TOKENIZER_LAYER,
    LayerSpec,
    dependency_layer,
    function_code,
)


@dataclass(frozen=True)
class FunctionSpec:
    """Size, time limit, fan-out, permissions and dependency layers of one handler's function."""

    memory_mb: int
    timeout_seconds: int
    fan_out: FanOut
    grants: tuple[p.Grant, ...]
    layers: tuple[LayerSpec, ...] = (RUNTIME_LAYER,)


# Handler module -> its function. LoadTest (and each LoadWorker) drives up to 15 minutes of requests, CollectMetrics
# polls CloudWatch until its deadline (metrics_deadline_seconds, 600 s by default); both get
# Lambda's maximum. Report renders charts with matplotlib, which wants memory. Every step that
# moves a candidate or a run forward writes its status to the table. The fan-out says how many
# run at once in the workflow (infra/concurrency.py): once per run, per candidate of the
# candidate Map, or per LoadWorker of a candidate's sweep.
FUNCTION_SPECS: dict[str, FunctionSpec] = {
    "prepare": FunctionSpec(
        512,
        120,
        FanOut.RUN,
        (
            p.read_artifact_inputs,
            p.read_write_results,
            p.look_up_prices,
            p.check_quotas,
            p.read_endpoint_traffic,
        ),
        layers=(RUNTIME_LAYER, TOKENIZER_LAYER),
    ),
    "load_worker": FunctionSpec(
        1769,
        900,
        FanOut.SWEEP_WORKER,
        (p.invoke_benchmark_endpoints, p.read_artifact_inputs, p.write_sweep_shares),
        layers=(RUNTIME_LAYER, TOKENIZER_LAYER),
    ),
    "load_test": FunctionSpec(
        1769,
        900,
        FanOut.CANDIDATE,
        (p.invoke_benchmark_endpoints, p.read_artifact_inputs, p.read_reports, p.write_results),
        layers=(RUNTIME_LAYER, TOKENIZER_LAYER),
    ),
    "release_endpoint": FunctionSpec(
        256, 300, FanOut.CANDIDATE, (p.release_benchmark_endpoints, p.write_results)
    ),
    "collect_metrics": FunctionSpec(256, 900, FanOut.CANDIDATE, (p.read_endpoint_metrics, p.write_results)),
    # Teardown waits (up to its timeout) for an endpoint still Creating to settle before deleting.
    "teardown": FunctionSpec(
        256,
        900,
        FanOut.CANDIDATE,
        (p.tear_down_benchmark_resources, p.read_endpoint_logs, p.write_results),
    ),
    "recommend": FunctionSpec(512, 120, FanOut.RUN, (p.read_write_results, p.look_up_prices)),
    "report": FunctionSpec(
        1536,
        300,
        FanOut.RUN,
        (p.read_write_results, p.write_reports),
        layers=(RUNTIME_LAYER, PLOTTING_LAYER),
    ),
    "notify": FunctionSpec(
        256,
        60,
        FanOut.RUN,
        (p.publish_notifications, p.read_slack_secret, p.read_write_results, p.read_reports),
    ),
    JANITOR: FunctionSpec(
        256,
        300,
        FanOut.RUN_AND_SCHEDULE,
        (p.sweep_benchmark_resources, p.read_write_results, p.read_run_executions),
    ),
}


def reserved_executions(config: StackConfig) -> dict[str, int]:
    """CDK function name -> the concurrency reserved for it, e.g. 'LoadWorkerFunction' -> 32."""
    return {
        name: reserved_concurrency(FUNCTION_SPECS[module].fan_out, config)
        for name, module in function_names().items()
    }


# Lambda quotas, "Environment variables: 4 KB, for all environment variables associated with the
# function, in aggregate" (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html):
# the names and values of all variables, counted in bytes.
ENVIRONMENT_LIMIT_BYTES = 4 * 1024
# A value CloudFormation fills in at deploy (a generated name or an ARN) is counted at this
# length: the longest here, a secret's ARN in a long region and partition, is under 200.
DEPLOY_TIME_VALUE_BYTES = 200
# The context keys behind the variables they can make long.
_DEFAULTS_KEYS = {name: f"infercost:{name}" for name in ("candidates", "slo", "load", "traffic", "workflow")}


def environment_bytes(environment: dict[str, str]) -> int:
    """What Lambda counts of an environment: the bytes of every name and value."""
    return sum(
        len(name.encode()) + (DEPLOY_TIME_VALUE_BYTES if Token.is_unresolved(value) else len(value.encode()))
        for name, value in environment.items()
    )


def check_environment_size(environment: dict[str, str], config: StackConfig) -> int:
    """The environment's size; an InputError naming the context key that makes it too big."""
    size = environment_bytes(environment)
    if size <= ENVIRONMENT_LIMIT_BYTES:
        return size
    contributions = {
        key: len(json.dumps(part, separators=(",", ":")).encode())
        for name, key in _DEFAULTS_KEYS.items()
        if (part := config.spec_defaults().get(name)) is not None
    }
    if config.price_overrides is not None:
        contributions["infercost:price_overrides"] = len(environment[env_name("price_overrides")].encode())
    key, biggest = max(contributions.items(), key=lambda item: item[1])
    raise InputError(
        f"makes each function's environment {size} bytes, more than Lambda's "
        f"{ENVIRONMENT_LIMIT_BYTES} (4 KB of variable names and values); it takes {biggest} of them",
        field=key,
        hint="keep the stack default short and give the rest in each spec (infercost.json)",
    )


def function_names() -> dict[str, str]:
    """CDK function name -> handler module: 'PrepareFunction' -> 'prepare', plus the janitor's."""
    names = {f"{state}Function": module for state, module in HANDLERS.items()}
    names["JanitorFunction"] = JANITOR
    return names


def check_specs(modules: list[str], specs: dict[str, FunctionSpec]) -> None:
    """Every handler needs a row in FUNCTION_SPECS; say which one is missing and where to add it."""
    missing = [module for module in modules if module not in specs]
    if missing:
        raise InputError(
            f"handler module {missing[0]!r} has no entry in FUNCTION_SPECS",
            field="infra/constructs/functions.py",
            hint="add its memory, timeout and grants there",
        )


class EvaluationFunctions(Construct):
    """The workflow's Lambda functions, each with its own role, log group and grants."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        resources: p.Resources,
    ) -> None:
        super().__init__(scope, construct_id)
        names = function_names()
        check_specs(list(names.values()), FUNCTION_SPECS)
        reserved = reserved_executions(config)
        check_total(reserved, config)
        code = function_code()
        layers = {
            spec.construct_id: dependency_layer(self, spec, bundle=config.bundle)
            for spec in {layer for fs in FUNCTION_SPECS.values() for layer in fs.layers}
        }
        environment = self._environment(config, resources)
        check_environment_size(environment, config)
        self.functions: dict[str, lambda_.Function] = {}
        for name, module in names.items():
            spec = FUNCTION_SPECS[module]
            self.functions[name] = self._function(
                name,
                module,
                spec,
                code,
                [layers[layer.construct_id] for layer in spec.layers],
                environment,
                config,
                resources,
                reserved[name],
            )

    def by_state(self, state: str) -> lambda_.Function:
        """The function behind an ASL state, e.g. 'Prepare'."""
        return self.functions[f"{state}Function"]

    @property
    def janitor(self) -> lambda_.Function:
        return self.functions["JanitorFunction"]

    @staticmethod
    def _environment(config: StackConfig, resources: p.Resources) -> dict[str, str]:
        # docs/architecture.md, "Lambda environment"; every handler parses the same settings.
        environment = {
            env_name("table_name"): resources.table.table_name,
            env_name("artifacts_bucket"): resources.artifacts.bucket_name,
            env_name("reports_prefix"): config.reports_prefix,
            env_name("topic_arn"): resources.topic.topic_arn,
            env_name("slack_secret_arn"): resources.slack_secret.secret_arn,
            env_name("resource_prefix"): config.resource_prefix,
            env_name("execution_role_arn"): resources.sagemaker.execution_role.role_arn,
            env_name("defaults"): json.dumps(config.spec_defaults(), separators=(",", ":")),
            env_name("max_endpoint_age_minutes"): str(config.max_endpoint_age_minutes),
            # With INFERCOST_DEFAULTS' workflow.max_concurrency, what Prepare may accept: the
            # reserved concurrency of LoadWorker is sized for this many workers per candidate.
            env_name("max_sweep_workers"): str(config.max_sweep_workers),
            # The service dimension of the operational metrics; one value per stack keeps the
            # alarms of two stacks in one account apart.
            "POWERTOOLS_SERVICE_NAME": config.resource_prefix,
            "POWERTOOLS_METRICS_NAMESPACE": "infercost",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            # pydantic scans every installed distribution for plugins at the first model build;
            # infercost uses none, and skipping the scan saves ~20 ms of each cold start.
            "PYDANTIC_DISABLE_PLUGINS": "__all__",
        }
        if config.price_overrides is not None:
            environment[env_name("price_overrides")] = json.dumps(
                config.price_overrides, separators=(",", ":")
            )
        return environment

    def _function(
        self,
        name: str,
        module: str,
        spec: FunctionSpec,
        code: lambda_.Code,
        layers: list[lambda_.ILayerVersion],
        environment: dict[str, str],
        config: StackConfig,
        resources: p.Resources,
        concurrency: int,
    ) -> lambda_.Function:
        # Named, so that the key policy can hold CloudWatch Logs to the stack's own groups.
        log_group = logs.LogGroup(
            self,
            f"{name}Logs",
            log_group_name=function_log_group_name(Stack.of(self).stack_name, name),
            retention=config.log_retention,
            encryption_key=resources.key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # A role per function, without the managed basic-execution policy: logs go to the
        # function's own group only.
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"infercost {module} handler",
        )
        log_group.grant_write(role)
        # Lambda decrypts the environment with the function's role when it starts.
        resources.key.grant_decrypt(role)
        for grant in spec.grants:
            grant(resources, role)
        function = lambda_.Function(
            self,
            name,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=f"infercost.handlers.{module}.handler",
            code=code,
            layers=layers,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            reserved_concurrent_executions=concurrency,
            environment=environment,
            environment_encryption=resources.key,
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            description=f"infercost: {module} (infercost.handlers.{module})",
        )
        nag.wildcard_resource(
            role,
            "*",
            "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions",
        )
        nag.acknowledge(
            function,
            "AwsSolutions-L1",
            "Python 3.12 is the runtime the dependency layers are built for and the code is tested on",
        )
        return function
