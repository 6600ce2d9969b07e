"""Run zb tests against a registry: ``-c`` threads share ``-n`` requests, bounded in time."""

from __future__ import annotations

import random
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .client import Client, Tally
from .layers import Layer, make_layer
from .progress import Progress
from .stats import Result
from .suite import Test
from .workflows import Pushed, delete_image, get_catalog, pull_image, push_image


@dataclass
class Options:
    url: str
    concurrency: int = 1
    requests: int = 10
    repo_prefix: str = "zb"
    time_limit: float = 300.0  # per test, seconds: a slow registry cannot hang the run
    cleanup: bool = True
    timeout: float = 120.0  # one HTTP call
    progress: bool = True


@dataclass
class _Shared:
    """State of one test that the threads share."""

    test: Test
    layers: dict[int, Layer]
    images: dict[int, Pushed] = field(default_factory=dict)
    pushed: list[Pushed] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Bench:
    def __init__(self, options: Options, workdir: str | None = None) -> None:
        self.options = options
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="zot-bench-")
        self.workdir = workdir or self._tmp.name
        self._layers: dict[int, Layer] = {}

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()

    def layer(self, size: int) -> Layer:
        if size not in self._layers:
            self._layers[size] = make_layer(self.workdir, size)
        return self._layers[size]

    # -- one test ----------------------------------------------------------------------------
    def run(self, test: Test) -> Result:
        shared = _Shared(test, {size: self.layer(size) for size in test.sizes})
        setup = Client(self.options.url, self.options.timeout)
        try:
            self._prepare(shared, setup)
            return self._measure(shared)
        finally:
            if self.options.cleanup:
                self._clean(shared)
            setup.close()

    def _prepare(self, shared: _Shared, client: Client) -> None:
        """Images a pull reads (one per size), or catalog entries (``-n`` images, as zb)."""
        test = shared.test
        if test.kind in ("pull", "pull-push"):
            for size in test.sizes:
                image = push_image(
                    client, self.options.repo_prefix, shared.layers[size], False, "t"
                )
                shared.images[size] = image
                shared.pushed.append(image)
        elif test.kind == "catalog":
            layer = shared.layers[test.sizes[0]]
            count = self.options.requests
            with ThreadPoolExecutor(max(1, min(self.options.concurrency, count))) as pool:

                def one(i: int) -> Pushed:
                    c = _thread_client(self.options)
                    return push_image(c, self.options.repo_prefix, layer, False, f"tag{i}")

                shared.pushed.extend(pool.map(one, range(count)))

    def _workflow(self, shared: _Shared, client: Client, rng: random.Random, i: int) -> int:
        test = shared.test
        size = rng.choices(test.sizes, test.weights)[0] if len(test.sizes) > 1 else test.sizes[0]
        kind = test.kind
        if kind == "pull-push":
            kind = rng.choices(["pull", "push"], test.weights)[0]
        if kind == "catalog":
            return get_catalog(client)
        if kind == "pull":
            return pull_image(client, shared.images[size])
        image = push_image(
            client,
            self.options.repo_prefix,
            shared.layers[size],
            kind == "push-streamed",
            f"tag{i}",
        )
        with shared.lock:
            shared.pushed.append(image)
        return shared.layers[size].size

    def _measure(self, shared: _Shared) -> Result:
        opts = self.options
        counter = iter(range(opts.requests))
        counter_lock = threading.Lock()
        latencies: list[float] = []
        errors: list[str] = []
        moved = [0]
        tallies: list[Tally] = []
        started = time.perf_counter()
        deadline = started + opts.time_limit
        timed_out = threading.Event()
        progress = Progress(shared.test.name, opts.requests) if opts.progress else None

        def next_index() -> int | None:
            with counter_lock:
                return next(counter, None)

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            tally = Tally()
            tallies.append(tally)
            client = Client(opts.url, opts.timeout, tally)
            try:
                while True:
                    if time.perf_counter() > deadline:
                        timed_out.set()
                        return
                    i = next_index()
                    if i is None:
                        return
                    t0 = time.perf_counter()
                    failed = False
                    try:
                        n = self._workflow(shared, client, rng, i)
                        with counter_lock:
                            moved[0] += n
                    except Exception as exc:  # noqa: BLE001 - every failure is counted, not raised
                        failed = True
                        with counter_lock:
                            errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    with counter_lock:
                        latencies.append(time.perf_counter() - t0)
                    if progress:
                        progress.step(failed)
            finally:
                client.close()

        threads = [
            threading.Thread(target=worker, args=(random.randrange(1 << 30),), daemon=True)
            for _ in range(max(1, opts.concurrency))
        ]
        ctx = progress if progress else _Null()
        with ctx:
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=max(0.0, deadline - time.perf_counter()) + opts.timeout)
        seconds = time.perf_counter() - started
        statuses: dict[int, int] = {}
        ttfbs: list[float] = []
        for tally in tallies:
            for status, count in tally.statuses.items():
                statuses[status] = statuses.get(status, 0) + count
            ttfbs.extend(tally.ttfbs)
        return Result(
            shared.test.name,
            requests=len(latencies),
            errors=len(errors),
            seconds=seconds,
            bytes=moved[0],
            latencies=latencies,
            ttfbs=ttfbs,
            statuses=statuses,
            error_samples=errors[:5],
            stopped_by_time=timed_out.is_set(),
        )

    def _clean(self, shared: _Shared) -> None:
        if not shared.pushed:
            return
        with ThreadPoolExecutor(max(1, min(self.options.concurrency, 8))) as pool:
            list(pool.map(lambda image: _safe_delete(self.options, image), shared.pushed))


_local = threading.local()


def _thread_client(options: Options) -> Client:
    client = getattr(_local, "client", None)
    if client is None or client.port != Client(options.url).port:
        client = _local.client = Client(options.url, options.timeout)
    return client


def _safe_delete(options: Options, image: Pushed) -> bool:
    try:
        return delete_image(_thread_client(options), image)
    except Exception:  # noqa: BLE001 - cleanup is best effort; the figures are already taken
        return False


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def run_tests(
    options: Options, tests: list[Test], on_result: Callable[[Result], None] | None = None
):
    """Each test in order, against one registry; the generated layers are shared."""
    bench = Bench(options)
    results: list[Result] = []
    try:
        for test in tests:
            result = bench.run(test)
            results.append(result)
            if on_result:
                on_result(result)
    finally:
        bench.close()
    return results
