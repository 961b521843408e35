"""A mergeable latency sketch (DDSketch, 1 % relative accuracy) with a compact text form.

Each worker of a load test records its latencies in one sketch; sketches merge exactly, so the
percentiles of merged sketches equal those of one sketch fed every value. A percentile read from
the sketch is within `RELATIVE_ACCURACY` (relative) of the true value at that rank.
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from collections.abc import Iterable
from typing import Any

from ddsketch import DDSketch

from infercost.domain.errors import InputError
from infercost.domain.models import LatencyStats

RELATIVE_ACCURACY = 0.01
_FORMAT = "dds1"


class LatencySketch:
    """Latencies in milliseconds: exact count, sum, min and max; percentiles within 1 %."""

    __slots__ = ("_sketch",)

    def __init__(self, values_ms: Iterable[float] = ()) -> None:
        self._sketch = DDSketch(RELATIVE_ACCURACY)
        self.add_many(values_ms)

    def add(self, value_ms: float) -> None:
        self._sketch.add(value_ms)

    def add_many(self, values_ms: Iterable[float]) -> None:
        add = self._sketch.add
        for value in values_ms:
            add(value)

    def merge(self, other: LatencySketch) -> None:
        self._sketch.merge(other._sketch)

    @property
    def count(self) -> int:
        return int(self._sketch.count)

    @property
    def avg_ms(self) -> float:
        return float(self._sketch.avg) if self.count else 0.0

    @property
    def max_ms(self) -> float:
        return float(self._sketch._max) if self.count else 0.0

    @property
    def min_ms(self) -> float:
        return float(self._sketch._min) if self.count else 0.0

    def quantile_ms(self, quantile: float) -> float | None:
        """The value at `quantile` (0..1), or None when the sketch is empty."""
        if quantile >= 1.0:
            return self.max_ms if self.count else None
        value = self._sketch.get_quantile_value(quantile)
        return None if value is None else float(value)

    def stats(self) -> LatencyStats | None:
        """avg and max exact, p50..p99 from the sketch; None when nothing was recorded."""
        if not self.count:
            return None

        def q(quantile: float) -> float:
            # The sketch's bin value can sit a hair above the exact max; never report p > max.
            value = self._sketch.get_quantile_value(quantile)
            return min(float(value if value is not None else 0.0), self.max_ms)

        return LatencyStats(
            avg=self.avg_ms, p50=q(0.5), p90=q(0.9), p95=q(0.95), p99=q(0.99), max=self.max_ms
        )

    def to_text(self) -> str:
        """Compact serialized form (zlib + base64 of the bins): a few hundred bytes per level."""
        sketch = self._sketch
        store = sketch._store
        if store.count:
            bins = store.bins[store.min_key - store.offset : store.max_key - store.offset + 1]
            first_key = store.min_key
        else:
            bins, first_key = [], 0
        body = {
            "a": RELATIVE_ACCURACY,
            "k": first_key,
            "b": [int(count) for count in bins],
            "z": int(sketch._zero_count),
            "s": sketch._sum,
            "lo": sketch._min if sketch.count else None,
            "hi": sketch._max if sketch.count else None,
        }
        packed = zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 9)
        return f"{_FORMAT}:{base64.b64encode(packed).decode()}"

    @classmethod
    def from_text(cls, text: str) -> LatencySketch:
        """Read what `to_text` wrote; a damaged or foreign sketch is an InputError."""
        prefix, _, data = text.partition(":")
        try:
            if prefix != _FORMAT:
                raise ValueError(prefix)
            body: dict[str, Any] = json.loads(zlib.decompress(base64.b64decode(data)))
            if not math.isclose(float(body["a"]), RELATIVE_ACCURACY):
                raise ValueError("accuracy")
            result = cls()
            sketch = result._sketch
            first_key = int(body["k"])
            for offset, count in enumerate(body["b"]):
                if count:
                    sketch._store.add(first_key + offset, float(count))
            sketch._zero_count = float(body["z"])
            sketch._count = sketch._store.count + sketch._zero_count
            sketch._sum = float(body["s"])
            if sketch._count:
                sketch._min = float(body["lo"])
                sketch._max = float(body["hi"])
        except (ValueError, KeyError, TypeError, zlib.error) as error:
            raise InputError(
                f"not a latency sketch written by infercost ({type(error).__name__})",
                field="sketch",
            ) from None
        return result
