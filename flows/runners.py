"""Which task runner flows use: local threads, or a Dask cluster when TOWNSHIP_DASK_ADDRESS is set."""

from __future__ import annotations

from township.settings import Settings


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
