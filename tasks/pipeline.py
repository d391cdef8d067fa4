"""Named steps and the way a pipeline calls them, so each pipeline is written once.

A pipeline (tasks/intake_pipeline.py, tasks/publication.py) is a plain function that calls its steps in
order through a `StepRunner`. Plain callers (the CLI's dry run, rebuild, tests, the bench) use
`PLAIN`, which calls each step directly; the Prefect flows pass a runner that wraps each step as a
Prefect task (flows/runners.py). The order of the steps lives in the pipeline, nowhere else.
"""

from __future__ import annotations

import atexit
import gc
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Step:
    """One named step of a pipeline: a plain function over plain data.

    retries: how often an orchestrator may retry it after a transient failure (I/O, the warehouse);
    0 for steps whose failure is deterministic (reading, validating).
    processes: the step is Python-bound (charts, PDF: it holds the GIL), so a local runner maps it over worker
    processes (`in_worker_process`) instead of threads; its items, arguments and result must pickle."""

    name: str
    fn: Callable[..., Any]
    retries: int = 0
    processes: bool = False

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


_POOL: ProcessPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
atexit.register(lambda: stop_worker_processes())


def worker_processes() -> int:
    return os.cpu_count() or 1


def _ready() -> int:
    return os.getpid()


def _pool() -> ProcessPoolExecutor:
    """The process's pool of worker processes, started once and kept (a step's per-process state, such as the
    reopened runtime, matplotlib's and reportlab's fonts, survives from one map to the next).

    Forked, not spawned: a spawned worker imports pandas, matplotlib, reportlab and the rest again (seconds, as
    long as publishing a county). All workers are forked at once, here, before any of them is used, so no
    fork happens while another thread of ours holds a lock.

    The objects a worker inherits are frozen out of its garbage collector (`gc.freeze()` across the fork, as
    the gc module's documentation advises for fork without exec): a worker never runs the finalizers of its
    parent's objects. It did: a worker forked after a DuckDB connection became garbage in the parent crashed
    with a segmentation fault while collecting it (tests/test_pipeline_fork.py). It also spares the workers
    from walking, and copying on write, the parent's whole heap at each full collection."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            n = worker_processes()
            pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("fork"))
            gc.freeze()  # the workers are forked at the first submit: each inherits these objects as frozen
            try:
                for f in [pool.submit(_ready) for _ in range(n)]:
                    f.result()
            finally:
                gc.unfreeze()  # the parent collects its own objects as before
            _POOL = pool
        return _POOL


def start_worker_processes() -> None:
    """Fork the worker processes now if they are not running (a pipeline that will use them does so before it
    starts threads of its own)."""
    _pool()


def stop_worker_processes() -> None:
    """Shut the worker processes down (they are started again when needed); at exit this happens by itself."""
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.shutdown(wait=True)


def submit_to_worker_process(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
    return _pool().submit(fn, *args, **kwargs)


def in_worker_process(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs) in one of the process's worker processes (see _pool); its exception is raised here."""
    return submit_to_worker_process(fn, *args, **kwargs).result()


class Pending(Protocol):
    """A step started and not waited on yet (a concurrent.futures.Future, a Prefect future)."""

    def result(self) -> Any: ...


class StepRunner(Protocol):
    """How a pipeline calls its steps: one call, one call started now and waited on later (while the pipeline
    goes on), or one call per item of a list (in parallel)."""

    def __call__(self, step: Step, *args: Any) -> Any: ...

    def submit(self, step: Step, *args: Any) -> Pending:
        """step(*args) started now; `.result()` waits for it and returns its result (or raises its exception).
        A `processes` step runs in a worker process, so it does not hold the pipeline's GIL."""
        ...

    def map(self, step: Step, items: Iterable[Any], *args: Any) -> list[Any]:
        """step(item, *args) for each item, results in the items' order."""
        ...


class PlainRunner:
    """Calls steps directly; `map` uses a thread pool (as the flows' default task runner does)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers

    def __call__(self, step: Step, *args: Any) -> Any:
        return step.fn(*args)

    def submit(self, step: Step, *args: Any) -> Future:
        if step.processes:
            return submit_to_worker_process(step.fn, *args)
        return _THREADS.submit(step.fn, *args)

    def map(self, step: Step, items: Iterable[Any], *args: Any) -> list[Any]:
        items = list(items)
        if len(items) <= 1 or self.workers == 1:
            return [step.fn(i, *args) for i in items]
        if step.processes:
            futures = [submit_to_worker_process(step.fn, i, *args) for i in items]
            return [f.result() for f in futures]
        with ThreadPoolExecutor(max_workers=self.workers or os.cpu_count()) as pool:
            return list(pool.map(lambda i: step.fn(i, *args), items))


PLAIN = PlainRunner()
_THREADS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="step")  # PlainRunner.submit of a thread step


class _Waited:
    """A submitted step's future whose wait is timed (TimedRunner.submit)."""

    def __init__(self, inner: Pending, add: Callable[[float], None]) -> None:
        self.inner, self.add = inner, add

    def result(self) -> Any:
        t0 = time.perf_counter()
        try:
            return self.inner.result()
        finally:
            self.add(t0)


class TimedRunner:
    """A runner that adds up the wall time of each step by name around another runner (the bench)."""

    def __init__(self, inner: StepRunner | None = None) -> None:
        self.inner = inner or PLAIN
        self.seconds: dict[str, float] = {}
        self.spans: list[tuple[str, float, float]] = []  # submitted steps: name, submitted, done

    def _add(self, name: str, t0: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0

    def __call__(self, step: Step, *args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self.inner(step, *args)
        finally:
            self._add(step.name, t0)

    def submit(self, step: Step, *args: Any) -> Pending:
        """The step as submitted: the time the pipeline waited for it (submitting, then `.result()`) counts as
        the step's, the time it ran beside the other steps does not."""
        t0 = time.perf_counter()
        try:
            pending = self.inner.submit(step, *args)
        finally:
            self._add(step.name, t0)
        if hasattr(pending, "add_done_callback"):  # and from submit to done, beside the others
            pending.add_done_callback(lambda _: self.spans.append((step.name, t0, time.perf_counter())))
        return _Waited(pending, lambda t: self._add(step.name, t))

    def in_flight(self) -> dict[str, float]:
        """Per submitted step, the wall time during which at least one of its calls was in flight (submitted
        and not done): how long it ran beside the others."""
        out: dict[str, float] = {}
        for name in {n for n, _, _ in self.spans}:
            end = float("-inf")
            for _, a, b in sorted(x for x in self.spans if x[0] == name):
                out[name] = out.get(name, 0.0) + max(0.0, b - max(a, end))
                end = max(end, b)
        return out

    def map(self, step: Step, items: Iterable[Any], *args: Any) -> list[Any]:
        t0 = time.perf_counter()
        try:
            return self.inner.map(step, items, *args)
        finally:
            self._add(step.name, t0)
