"""One batch size's inference figures from its measured batch latencies.

Percentiles are numpy's default (linear interpolation between the two
nearest ranks, the definition of numpy.percentile's ``method="linear"``);
the standard deviation is the sample one (n - 1). Throughput is the
measured samples over the measured time: batches x batch size / sum of
latencies. MLPerf Inference's SingleStream figure is the 90th-percentile
latency at batch 1; its Offline figure the best throughput.

Example:

```python
figures = LatencyFigures.from_latencies(8, latencies_s=[...], warmup_s=2.1, warmup_batches=12)
figures.p90_s, figures.samples_per_second
```
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

import numpy as np

PERCENTILES = (50, 90, 95, 99)


@dataclass(frozen=True)
class LatencyFigures:
    batch_size: int
    batches: int
    p50_s: float
    p90_s: float
    p95_s: float
    p99_s: float
    mean_s: float
    std_s: float
    samples_per_second: float
    warmup_s: float  # warm-up (compilation included), apart from the figures
    warmup_batches: int

    @classmethod
    def from_latencies(
        cls, batch_size: int, latencies_s: list[float], warmup_s: float, warmup_batches: int
    ) -> LatencyFigures:
        if not latencies_s:
            raise ValueError("no measured batch")
        p50, p90, p95, p99 = (float(v) for v in np.percentile(latencies_s, PERCENTILES))
        return cls(
            batch_size=batch_size,
            batches=len(latencies_s),
            p50_s=p50,
            p90_s=p90,
            p95_s=p95,
            p99_s=p99,
            mean_s=statistics.fmean(latencies_s),
            std_s=statistics.stdev(latencies_s) if len(latencies_s) > 1 else 0.0,
            samples_per_second=batch_size * len(latencies_s) / sum(latencies_s),
            warmup_s=warmup_s,
            warmup_batches=warmup_batches,
        )

    def to_dict(self) -> dict:
        return asdict(self)
