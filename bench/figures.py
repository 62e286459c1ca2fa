"""How the benchmarks print what they measured: percentiles, one line per series, the verdict."""

from __future__ import annotations


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` 0.99 is p99: the largest of fewer than 100)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def series_line(label: str, seconds: list[float], *, width: int = 40) -> str:
    """`label  p50 … ms  p99 … ms` for samples in seconds."""
    p50, p99 = percentile(seconds, 0.5) * 1e3, percentile(seconds, 0.99) * 1e3
    return f"  {label:<{width}} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms"


def verdict_line(target: str, *, met: bool) -> str:
    return f"target: {target} — {'MET' if met else 'NOT MET'}"
