"""Flush this process's Prefect log and event workers before a test server stops.

Flows run in the test process queue logs and events for the API; if the server they point at stops
first, those workers keep retrying at interpreter exit and pytest never ends (seen in CI).
Prefect's own test harness drains them the same way before stopping its server.
"""

from __future__ import annotations

import inspect


def drain_prefect_workers() -> None:
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        try:
            result = APILogWorker.instance().drain()
            if inspect.isawaitable(result):
                await result
        except RuntimeError:  # never started in this process
            pass
        result = EventsWorker.drain_all()
        if inspect.isawaitable(result):
            await result

    run_coro_as_sync(drain())
