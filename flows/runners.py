"""Which task runner flows use: local threads, or a Dask cluster when TOWNSHIP_DASK_ADDRESS is set."""

from __future__ import annotations

import os


def task_runner():  # noqa: ANN201
    address = os.environ.get("TOWNSHIP_DASK_ADDRESS")
    if address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=address)
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=int(os.environ.get("TOWNSHIP_READ_WORKERS") or 0) or None)
