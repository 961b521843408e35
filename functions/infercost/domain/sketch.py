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

from infercost.domain import confidence
from infercost.domain.errors import InputError
from infercost.domain.models import PERCENTILES, QUANTILES
from infercost.domain.results import LatencyConfidence, LatencyStats

RELATIVE_ACCURACY = 0.01
# 'dds2': ddsketch's own protobuf form of the bins, plus the exact sum, min and max (which that
# form does not carry), zlib-compressed in one base64 text.
_FORMAT = "dds2"


class LatencySketch:
    """Latencies in milliseconds: exact count, sum, min and max; percentiles within 1 %.

    The DDSketch holds the bins; the exact figures are kept here, beside it, so that nothing reads
    the library's private state.
    """

    __slots__ = ("_max", "_min", "_sketch", "_sum")

    def __init__(self, values_ms: Iterable[float] = ()) -> None:
        self._sketch = DDSketch(RELATIVE_ACCURACY)
        self._sum = 0.0
        self._min = math.inf
        self._max = -math.inf
        self.add_many(values_ms)

    def add(self, value_ms: float) -> None:
        self._sketch.add(value_ms)
        self._sum += value_ms
        self._min = min(self._min, value_ms)
        self._max = max(self._max, value_ms)

    def add_many(self, values_ms: Iterable[float]) -> None:
        values = list(values_ms)
        if not values:
            return
        add = self._sketch.add
        for value in values:
            add(value)
        self._sum += math.fsum(values)
        self._min = min(self._min, min(values))
        self._max = max(self._max, max(values))

    def merge(self, other: LatencySketch) -> None:
        self._sketch.merge(other._sketch)
        self._sum += other._sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    @property
    def count(self) -> int:
        return int(self._sketch.count)

    @property
    def avg_ms(self) -> float:
        return self._sum / self.count if self.count else 0.0

    @property
    def max_ms(self) -> float:
        return self._max if self.count else 0.0

    @property
    def min_ms(self) -> float:
        return self._min if self.count else 0.0

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
            # The sketch's bin value can sit a hair outside the exact min and max; never report
            # p > max or p < min.
            value = self._sketch.get_quantile_value(quantile)
            return min(max(float(value if value is not None else 0.0), self.min_ms), self.max_ms)

        return LatencyStats(
            avg=self.avg_ms, p50=q(0.5), p90=q(0.9), p95=q(0.95), p99=q(0.99), max=self.max_ms
        )

    def _bins(self) -> list[tuple[float, float]]:
        """(value, count) of every non-empty bin, lowest value first, read through the library's
        own protobuf form (its public interface to the bins)."""
        from ddsketch.pb.proto import DDSketchProto, KeyMappingProto

        message = DDSketchProto.to_proto(self._sketch)
        mapping = KeyMappingProto.from_proto(message.mapping)
        bins: list[tuple[float, float]] = []
        for store, sign in ((message.negativeValues, -1.0), (message.positiveValues, 1.0)):
            index = store.contiguousBinIndexOffset
            for count in store.contiguousBinCounts:
                if count:
                    bins.append((sign * mapping.value(index), count))
                index += 1
        if message.zeroCount:
            bins.append((0.0, message.zeroCount))
        return sorted(bins)

    def order_statistic_ms(self, rank: int) -> float:
        """The `rank`-th smallest value (1-based) as the sketch holds it: within 1 %, in [min, max]."""
        if not 1 <= rank <= self.count:
            raise ValueError(f"rank {rank} is outside 1..{self.count}")
        seen = 0.0
        for value, count in self._bins():
            seen += count
            if seen >= rank:
                return min(max(value, self.min_ms), self.max_ms)
        return self.max_ms

    def std_ms(self) -> float | None:
        """Sample standard deviation from the bins' values (each within 1 %, so the result is
        within about 1 %) around the exact mean; None below two values."""
        if self.count < 2:
            return None
        mean = self.avg_ms
        squares = math.fsum(count * (value - mean) ** 2 for value, count in self._bins())
        return math.sqrt(squares / (self.count - 1))

    def confidence(self, level: float = confidence.DEFAULT_LEVEL) -> LatencyConfidence | None:
        """Distribution-free intervals of p50..p99 and Student's t interval of the mean.

        The order statistics are read from the sketch and widened by its accuracy α: a value v
        read at a rank stands for a true value in [v ÷ (1 + α), v ÷ (1 − α)], kept within the
        exact min and max. None when nothing was recorded.
        """
        n = self.count
        if not n:
            return None
        intervals: dict[str, confidence.Interval] = {}
        for name in PERCENTILES:
            if QUANTILES[name] >= 1:
                continue
            lo_rank, hi_rank = confidence.order_statistic_ranks(n, QUANTILES[name], level)
            lo = self.order_statistic_ms(lo_rank) / (1 + RELATIVE_ACCURACY) if lo_rank else None
            hi = self.order_statistic_ms(hi_rank) / (1 - RELATIVE_ACCURACY) if hi_rank else None
            intervals[name] = (
                max(lo, self.min_ms) if lo is not None else None,
                min(hi, self.max_ms) if hi is not None else None,
            )
        std = self.std_ms()
        return LatencyConfidence(
            level=level,
            samples=n,
            intervals_ms=intervals,
            mean_ms=confidence.mean_interval(n, self.avg_ms, std, level) if std is not None else None,
            std_ms=std,
            method=f"exact binomial order statistics read from the client's sketch (±{RELATIVE_ACCURACY:.0%})",
        )

    def to_text(self) -> str:
        """Compact serialized form: ddsketch's protobuf bins and the exact figures, compressed."""
        from ddsketch.pb.proto import DDSketchProto

        body = {
            "pb": base64.b64encode(DDSketchProto.to_proto(self._sketch).SerializeToString()).decode(),
            "s": self._sum,
            "lo": self._min if self.count else None,
            "hi": self._max if self.count else None,
        }
        packed = zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 9)
        return f"{_FORMAT}:{base64.b64encode(packed).decode()}"

    @classmethod
    def from_text(cls, text: str) -> LatencySketch:
        """Read what `to_text` wrote; a damaged or foreign sketch is an InputError."""
        from ddsketch.pb.ddsketch_pb2 import DDSketch as DDSketchMessage
        from ddsketch.pb.proto import DDSketchProto
        from google.protobuf.message import DecodeError

        prefix, _, data = text.partition(":")
        try:
            if prefix != _FORMAT:
                raise ValueError(prefix)
            body: dict[str, Any] = json.loads(zlib.decompress(base64.b64decode(data)))
            message = DDSketchMessage()
            message.ParseFromString(base64.b64decode(body["pb"]))
            # The mapping's gamma is (1 + accuracy) / (1 - accuracy).
            if not math.isclose(message.mapping.gamma, (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)):
                raise ValueError("accuracy")
            sketch = DDSketchProto.from_proto(message)
            result = cls()
            result._sketch = sketch
            result._sum = float(body["s"])
            if sketch.count:
                result._min = float(body["lo"])
                result._max = float(body["hi"])
        except (ValueError, KeyError, TypeError, AttributeError, zlib.error, DecodeError) as error:
            raise InputError(
                f"not a latency sketch written by infercost ({type(error).__name__})",
                field="sketch",
            ) from None
        return result
