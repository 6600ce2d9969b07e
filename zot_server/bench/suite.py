"""zb's test suite (cmd/zb/perf.go) as data: what each test pushes or pulls, at what sizes."""

from __future__ import annotations

from dataclasses import dataclass

from .layers import size_label


@dataclass(frozen=True)
class Test:
    name: str
    kind: str  # "catalog", "push", "push-streamed", "pull", "pull-push"
    sizes: tuple[int, ...]  # one size, or several drawn with ``weights``
    weights: tuple[float, ...] = (1.0,)


def zb_suite(small: int, medium: int, large: int) -> list[Test]:
    """The order and mixes of zb; sizes default to 1, 10 and 100 MiB."""
    s, m, lg = small, medium, large
    one = [(size, size_label(size)) for size in (s, m, lg)]
    tests = [Test("Get Catalog", "catalog", (s,))]
    tests += [Test(f"Push Monolith {label}", "push", (size,)) for size, label in one]
    tests += [Test(f"Push Chunk Streamed {label}", "push-streamed", (size,)) for size, label in one]
    tests += [Test(f"Pull {label}", "pull", (size,)) for size, label in one]
    labels = [size_label(x) for x in (s, m, lg)]
    mix = f"20% {labels[0]}, 70% {labels[1]}, 10% {labels[2]}"
    third = f"33% {labels[0]}, 33% {labels[1]}, 33% {labels[2]}"
    tests += [
        Test(f"Pull Mixed {mix}", "pull", (s, m, lg), (0.2, 0.7, 0.1)),
        Test(f"Push Monolith Mixed {mix}", "push", (s, m, lg), (0.2, 0.7, 0.1)),
        Test(f"Push Chunk Mixed {third}", "push-streamed", (s, m, lg), (1 / 3, 1 / 3, 1 / 3)),
    ]
    tests += [
        Test(f"Pull 75% and Push 25% Mixed {label}", "pull-push", (size,), (0.75, 0.25))
        for size, label in one
    ]
    return tests


def select(tests: list[Test], patterns: list[str] | None) -> list[Test]:
    """Tests whose name contains any of ``patterns`` (case-insensitive); all without patterns."""
    if not patterns:
        return tests
    wanted = [p.lower() for p in patterns]
    return [t for t in tests if any(p in t.name.lower() for p in wanted)]
