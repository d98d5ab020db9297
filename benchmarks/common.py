"""Timing helpers shared by the benchmarks: percentiles and side-by-side tables."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass(frozen=True)
class Measurement:
    """Latencies (seconds) of N operations and the wall time they took together."""

    label: str
    latencies: list[float]
    wall: float

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
        return ordered[index]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.latencies)


def measure(label: str, operation: Callable[[int], object], count: int) -> Measurement:
    """Run `operation(i)` for i in range(count), timing each call."""
    latencies: list[float] = []
    started = time.perf_counter()
    for i in range(count):
        t0 = time.perf_counter()
        operation(i)
        latencies.append(time.perf_counter() - t0)
    return Measurement(label, latencies, time.perf_counter() - started)


def table(rows: Iterable[Measurement], baseline: Measurement) -> str:
    """A Markdown table: rate, p50, p99 and the ratio of each row's rate to the baseline."""
    lines = [
        "| variant | ops/s | p50 ms | p99 ms | ratio to raw |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        ratio = row.rate / baseline.rate if baseline.rate else 0.0
        lines.append(
            f"| {row.label} | {row.rate:,.0f} | {row.percentile(50) * 1000:.2f} "
            f"| {row.percentile(99) * 1000:.2f} | {ratio:.2f}× |"
        )
    return "\n".join(lines)
