"""Per-test figures: requests/s, MB/s, latency percentiles, first-byte time, statuses, errors."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


def status_classes(statuses: dict[int, int]) -> dict[str, int]:
    classes: dict[str, int] = {}
    for status, count in statuses.items():
        key = f"{status // 100}xx"
        classes[key] = classes.get(key, 0) + count
    return dict(sorted(classes.items()))


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    bytes: int
    latencies: list[float] = field(default_factory=list, repr=False)
    ttfbs: list[float] = field(default_factory=list, repr=False)
    statuses: dict[int, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    stopped_by_time: bool = False

    @property
    def rps(self) -> float:
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    @property
    def mbps(self) -> float:
        return self.bytes / (1 << 20) / self.seconds if self.seconds else 0.0

    def summary(self) -> dict:
        lat = sorted(self.latencies)
        ttfb = sorted(self.ttfbs)
        return {
            "name": self.name,
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 4),
            "requests_per_sec": round(self.rps, 2),
            "mb_per_sec": round(self.mbps, 2),
            "p50_ms": round(percentile(lat, 0.50) * 1000, 3),
            "p90_ms": round(percentile(lat, 0.90) * 1000, 3),
            "p99_ms": round(percentile(lat, 0.99) * 1000, 3),
            "ttfb_p50_ms": round(percentile(ttfb, 0.50) * 1000, 3),
            "status": {str(k): v for k, v in sorted(self.statuses.items())},
            "status_classes": status_classes(self.statuses),
            "error_samples": self.error_samples[:5],
            "stopped_by_time": self.stopped_by_time,
        }

    def cicd(self) -> list[dict]:
        """zb's ``ci-cd`` entries (name, unit, value), one per figure."""
        s = self.summary()
        return [
            {"name": self.name, "unit": "requests per sec", "value": s["requests_per_sec"]},
            {"name": f"{self.name}: throughput", "unit": "MB per sec", "value": s["mb_per_sec"]},
            {"name": f"{self.name}: p50 latency", "unit": "ms", "value": s["p50_ms"]},
            {"name": f"{self.name}: p90 latency", "unit": "ms", "value": s["p90_ms"]},
            {"name": f"{self.name}: p99 latency", "unit": "ms", "value": s["p99_ms"]},
            {"name": f"{self.name}: ttfb p50", "unit": "ms", "value": s["ttfb_p50_ms"]},
            {"name": f"{self.name}: errors", "unit": "count", "value": self.errors},
        ]


def table(results: list[Result]) -> str:
    """A fixed-width table, one line per test."""
    head = (
        f"{'test':<52} {'req':>5} {'err':>4} {'req/s':>9} {'MB/s':>9} "
        f"{'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9} {'ttfb ms':>8}  status"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        s = r.summary()
        classes = " ".join(f"{k}:{v}" for k, v in s["status_classes"].items())
        lines.append(
            f"{r.name[:52]:<52} {r.requests:>5} {r.errors:>4} {s['requests_per_sec']:>9.1f} "
            f"{s['mb_per_sec']:>9.1f} {s['p50_ms']:>9.2f} {s['p90_ms']:>9.2f} {s['p99_ms']:>9.2f} "
            f"{s['ttfb_p50_ms']:>8.2f}  {classes}"
        )
    return "\n".join(lines)


__all__ = ["Result", "asdict", "percentile", "status_classes", "table"]
