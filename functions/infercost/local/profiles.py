"""Simulated speed of SageMaker hardware for the local model server (declared, not measured).

The local stack runs every candidate on this machine, so the differences between an
ml.c7g.large and an ml.g5.xlarge are declared here: added latency per batch, jitter, parallel
workers, batching and serverless cold starts. Every figure is a simulation and says so.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from infercost.domain.models import Candidate


class SpeedProfile(BaseModel):
    """How a simulated endpoint answers: service time, parallelism, batching, cold start, faults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "custom"
    base_latency_ms: float = Field(default=0.0, ge=0, description="added service time per batch")
    jitter_ms: float = Field(default=0.0, ge=0, description="mean of exponential extra time")
    delays_ms: tuple[float, ...] = Field(
        default=(), description="service times used in turn instead of base_latency_ms"
    )
    workers: int = Field(default=1, ge=1, le=1024, description="requests (batches) served at once")
    max_batch: int = Field(default=1, ge=1, le=256, description="queued requests served together")
    cold_start_ms: float = Field(default=0.0, ge=0, description="extra time after an idle period")
    cold_after_idle_s: float = Field(default=60.0, gt=0)
    noop: bool = Field(default=False, description="skip the model; answer a fixed body")
    fail_every: int = Field(default=0, ge=0, description="every Nth invocation fails (0: never)")
    fail_status: int = Field(default=500, ge=400, le=599)
    seed: int = 7
    simulated: bool = True

    @property
    def immediate(self) -> bool:
        """Nothing to simulate: answer straight from the request callback (benchmark fast path)."""
        return (
            self.base_latency_ms == 0
            and not self.delays_ms
            and self.jitter_ms == 0
            and self.cold_start_ms == 0
            and self.max_batch == 1
        )


NOOP = SpeedProfile(name="noop", noop=True, workers=1024)


def fixed_delay(delay_ms: float, *, workers: int = 1024) -> SpeedProfile:
    """A no-model endpoint that answers after exactly `delay_ms` (for benchmarks and tests)."""
    return SpeedProfile(name=f"fixed-{delay_ms:g}ms", base_latency_ms=delay_ms, workers=workers, noop=True)


# Size multipliers: a larger instance of a family has more cores (more parallel workers)
# and somewhat faster single requests.
_SIZES: dict[str, tuple[float, int]] = {
    "medium": (1.2, 1),
    "large": (1.0, 2),
    "xlarge": (0.9, 4),
    "2xlarge": (0.85, 8),
    "4xlarge": (0.8, 16),
    "8xlarge": (0.8, 32),
    "12xlarge": (0.8, 48),
    "16xlarge": (0.8, 64),
    "24xlarge": (0.8, 96),
}

# Family -> (base latency ms on a .large, jitter ms, max batch). CPUs serve one request at a
# time per core; GPUs and Inferentia batch queued requests.
_FAMILIES: dict[str, tuple[float, float, int]] = {
    "t2": (60.0, 12.0, 1),
    "t3": (55.0, 10.0, 1),
    "m5": (45.0, 6.0, 1),
    "m6i": (38.0, 5.0, 1),
    "m7i": (34.0, 4.0, 1),
    "c5": (40.0, 5.0, 1),
    "c6i": (32.0, 4.0, 1),
    "c6g": (36.0, 4.0, 1),
    "c7g": (30.0, 3.0, 1),
    "c7i": (29.0, 3.0, 1),
    "r5": (46.0, 6.0, 1),
    "g4dn": (14.0, 2.0, 8),
    "g5": (9.0, 1.5, 16),
    "g6": (8.0, 1.2, 16),
    "p3": (7.0, 1.0, 32),
    "inf1": (12.0, 1.5, 8),
    "inf2": (7.0, 1.0, 16),
}
_UNKNOWN_FAMILY = (50.0, 8.0, 1)
_EIA_SPEEDUP = {"medium": 0.55, "large": 0.45, "xlarge": 0.4}


def profile_for(candidate: Candidate) -> SpeedProfile:
    """The declared simulated speed of `candidate` (unknown families get a slow CPU profile)."""
    if candidate.serverless is not None:
        memory_gb = candidate.serverless.memory_mb / 1024
        return SpeedProfile(
            name=f"serverless-{candidate.serverless.memory_mb}",
            base_latency_ms=round(70.0 / memory_gb**0.5, 1),
            jitter_ms=8.0,
            workers=candidate.serverless.max_concurrency,
            cold_start_ms=1500.0,
            cold_after_idle_s=30.0,
        )
    match = re.match(r"^ml\.([a-z0-9-]+)\.([a-z0-9]+)$", str(candidate.instance_type))
    family, size = (match.group(1), match.group(2)) if match else ("", "large")
    base, jitter, batch = _FAMILIES.get(family, _UNKNOWN_FAMILY)
    speed, cores = _SIZES.get(size, (1.0, 2))
    if candidate.accelerator_type is not None:
        accel_size = candidate.accelerator_type.rsplit(".", 1)[-1]
        base *= _EIA_SPEEDUP.get(accel_size, 0.5)
    return SpeedProfile(
        name=candidate.slug,
        base_latency_ms=round(base * speed, 2),
        jitter_ms=round(jitter * speed, 2),
        workers=cores * candidate.instance_count if batch == 1 else candidate.instance_count,
        max_batch=batch,
    )
