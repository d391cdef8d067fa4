"""How flows run steps: each pipeline step as a Prefect task, on local threads or a Dask cluster.

The pipelines themselves (tasks/intake_pipeline.py, tasks/publication.py) decide the order of their
steps; a flow passes `PrefectRunner()` so each step becomes a named task run with its retries.
"""

from __future__ import annotations

import functools
from typing import Any, Iterable

import sqlalchemy.exc
from prefect import Task, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import opaque

from tasks.pipeline import Step, in_worker_process
from township.settings import Settings

RETRY_DELAYS = [5, 30, 120]


def task_runner():
    """A DaskTaskRunner on the scheduler TOWNSHIP_DASK_ADDRESS names, else a pool of TOWNSHIP_READ_WORKERS threads.

    Reads the settings afresh at each call (not the cached ones), so that `intake.with_options(task_runner=
    task_runner())` picks up an address set after import."""
    s = Settings()
    if s.dask_address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=s.dask_address)
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=s.read_workers or None)


def is_transient(exc: BaseException | None) -> bool:
    """Worth retrying: the warehouse or a network filesystem was briefly unavailable. Not: bad input,
    a missing folder, a full disk, a bug — retrying those only delays the answer."""
    if isinstance(exc, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)):
        return True
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        return bool(exc.connection_invalidated)
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return False


def retry_if_transient(_task: Task, _task_run: Any, state: Any) -> bool:
    """Prefect's retry_condition_fn: retry a failed step only for a transient error."""
    exc = state.data if isinstance(state.data, BaseException) else state.result(raise_on_failure=False)
    return is_transient(exc if isinstance(exc, BaseException) else None)


def _in_worker_process(fn):  # noqa: ANN001, ANN202
    """The step function as a task body that runs it in the flow process's worker processes (tasks/pipeline.py):
    the task run (its state, retries, logs) stays on the flow's thread, the Python-bound work gets a core."""

    @functools.wraps(fn)
    def body(*args: Any, **kwargs: Any) -> Any:
        return in_worker_process(fn, *args, **kwargs)

    return body


def _opaque(values: Iterable[Any]) -> tuple:
    return tuple(opaque(v) for v in values)


def _for_task_runner(values: Iterable[Any]) -> tuple:
    """Arguments for the flow's task runner: opaque on local threads, as they are for a Dask cluster."""
    return tuple(values) if Settings().dask_address else _opaque(values)


class PrefectRunner:
    """Runs pipeline steps as Prefect tasks (one task per step, created once per step).

    A step marked `processes` runs in worker processes of the flow's process when the flow's task runner is local
    threads; on Dask (TOWNSHIP_DASK_ADDRESS) the workers are processes already and run it themselves."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    def task(self, step: Step) -> Task:
        if step.name not in self._tasks:
            fn = _in_worker_process(step.fn) if step.processes and not Settings().dask_address else step.fn
            self._tasks[step.name] = task(fn, name=step.name, cache_policy=NO_CACHE, retries=step.retries,
                                          retry_delay_seconds=RETRY_DELAYS[:step.retries] or 0,
                                          retry_condition_fn=retry_if_transient)
        return self._tasks[step.name]

    # Every argument goes in `opaque`: Prefect otherwise walks each argument to its last element looking for
    # futures and states (to draw the task graph), twice per task run. The steps pass plain data (a batch's reads,
    # its frames, receipts), and that walk cost ~7 of the ~12 CPU-s of a county intake flow run; at province size
    # it ran for many minutes. `opaque` still resolves a future passed whole; nothing nested in one is looked for.
    # Not what goes to Dask: its task runner hands the annotation itself to the task (Prefect 3.9), so a step
    # submitted or mapped there gets its arguments as they are (each chunk of files, walked as before).
    def __call__(self, step: Step, *args: Any) -> Any:
        return self.task(step)(*_opaque(args))  # run here, in the flow's thread, on Dask too

    def submit(self, step: Step, *args: Any) -> Any:
        """The step's task submitted to the flow's task runner (a PrefectFuture: `.result()` waits for it, after
        its retries, and raises if it failed)."""
        return self.task(step).submit(*_for_task_runner(args))

    def map(self, step: Step, items: Iterable[Any], *args: Any) -> list[Any]:
        futures = self.task(step).map(list(_for_task_runner(items)), *(unmapped(a) for a in _for_task_runner(args)))
        return [f.result() for f in futures]
