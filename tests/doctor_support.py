"""What `infercost doctor`'s tests share: IAM's policy simulator answered by botocore's Stubber.

moto does not implement SimulatePrincipalPolicy. `stub_simulations` queues, in the order the roles
check asks, the answer AWS gives for each request of the simulation plan: every action allowed,
except those `denied` names for a function.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.stub import Stubber

from infercost.data.doctor_roles import Simulation, simulation_plan
from infercost.domain.doctor import OCI_INDEX, OCI_MANIFEST, StackInfo


def simulation_answer(simulation: Simulation, denied: Mapping[str, str]) -> dict[str, Any]:
    """SimulatePrincipalPolicy's answer: one result per action, per resource when there are some."""
    results = []
    for action in simulation.actions:
        decision = denied.get(action, "allowed")
        result: dict[str, Any] = {
            "EvalActionName": action,
            "EvalResourceName": simulation.resources[0] if simulation.resources else "*",
            "EvalDecision": decision,
        }
        if simulation.resources:
            result["ResourceSpecificResults"] = [
                {"EvalResourceName": resource, "EvalResourceDecision": decision}
                for resource in simulation.resources
            ]
        results.append(result)
    return {"EvaluationResults": results, "IsTruncated": False}


def stub_simulations(
    iam: Any,
    stack: StackInfo,
    roles: Mapping[str, str],
    calls: Mapping[str, Sequence[str]],
    *,
    input_key: str,
    secret_arn: str | None,
    denied: Mapping[str, Mapping[str, str]] | None = None,
) -> Stubber:
    """A Stubber on `iam` (activated) answering each function's simulations in order.

    `roles`: function -> its role ARN; `denied`: function -> {action: 'implicitDeny' | 'explicitDeny'}.
    """
    stubber = Stubber(iam)
    for name in sorted(calls):
        if name not in roles:
            continue
        for simulation in simulation_plan(calls[name], stack, input_key=input_key, secret_arn=secret_arn):
            stubber.add_response(
                "simulate_principal_policy",
                simulation_answer(simulation, (denied or {}).get(name, {})),
                simulation.parameters(roles[name]),
            )
    stubber.activate()
    return stubber


def index(*architectures: str) -> str:
    """An OCI image index listing one manifest per architecture (linux)."""
    manifests = [
        {"mediaType": OCI_MANIFEST, "digest": f"sha256:{str(n) * 64}", "size": 500,
         "platform": {"os": "linux", "architecture": architecture}}
        for n, architecture in enumerate(architectures)
    ]  # fmt: skip
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
