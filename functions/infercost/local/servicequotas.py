"""moto extension: Service Quotas' ListServiceQuotas for SageMaker endpoint instances.

moto 5.2.5 implements only two Service Quotas calls, for VPC. Prepare's quota pre-check asks
ListServiceQuotas(ServiceCode='sagemaker') for the applied '<instance type> for endpoint usage'
quotas; this answers it, in the real response shape, from the local stack's quota table.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from infercost.data.endpoints import endpoint_quota_name
from infercost.local.runtime import active

_installed = False


def quota_entry(region: str, account_id: str, instance_type: str, value: int) -> dict[str, Any]:
    name = endpoint_quota_name(instance_type)
    code = "L-" + hashlib.sha256(name.encode()).hexdigest()[:8].upper()
    return {
        "ServiceCode": "sagemaker",
        "ServiceName": "Amazon SageMaker",
        "QuotaArn": f"arn:aws:servicequotas:{region}:{account_id}:sagemaker/{code}",
        "QuotaCode": code,
        "QuotaName": name,
        "Value": float(value),
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
    }


def _list_service_quotas(self: Any) -> str:
    from moto.servicequotas.exceptions import NoSuchResource

    params = json.loads(self.body or "{}")
    runtime = active()
    if runtime is None or params.get("ServiceCode") != "sagemaker":
        raise NoSuchResource()
    quotas = [
        quota_entry(self.region, self.current_account, instance_type, value)
        for instance_type, value in sorted(runtime.quotas.items())
    ]
    return json.dumps({"Quotas": quotas})


def install() -> None:
    """Add ListServiceQuotas to moto's Service Quotas responses (idempotent)."""
    global _installed
    from moto.servicequotas.responses import ServiceQuotasResponse

    if not _installed:
        ServiceQuotasResponse.list_service_quotas = _list_service_quotas  # type: ignore[attr-defined]
        _installed = True
