"""Run names and tags that say in the Prefect UI what ran: `intake 2021-11-03 09:00`, `publish 2021-10 v2`.

The `*_run_name` functions are `flow_run_name=` callables (Prefect calls them with no arguments, inside the run).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from prefect import get_client
from prefect.runtime import flow_run

from township.periods import Period
from township.settings import get_settings


def _local(moment: dt.datetime | None) -> dt.datetime:
    tz = get_settings().tz
    return (moment or dt.datetime.now(tz)).astimezone(tz)


def _period_parameter() -> str:
    """The run's `period` parameter, or the default every monthly flow uses: last month, local time."""
    period = (flow_run.parameters or {}).get("period")
    return str(Period.parse(period)) if period else str(Period.previous_month(get_settings().tz))


def intake_run_name() -> str:
    """`intake 2021-11-03 09:00`: the scheduled slot, in the township's time (a manual run: now)."""
    return f"intake {_local(flow_run.scheduled_start_time):%Y-%m-%d %H:%M}"


def publish_run_name() -> str:
    """`publish 2021-10` (`label_run` adds the vintage once it is known: `publish 2021-10 v2`)."""
    return f"publish {_period_parameter()}"


def reminder_run_name() -> str:
    return f"reminder {_period_parameter()}"


def rebuild_run_name() -> str:
    return f"rebuild {_local(None):%Y-%m-%d %H:%M}"


def period_tag(period: object) -> str:
    return f"period:{Period.parse(period)}"


def reporter_tag(reporter_code: str) -> str:
    return f"reporter:{reporter_code}"


def label_run(name: str | None = None, tags: Iterable[str] = ()) -> None:
    """Rename the current flow run and/or add tags to it (e.g. the vintage, the periods and reporters seen).

    Outside a flow run (a plain function call in a test or the CLI) there is nothing to label.
    """
    run_id = flow_run.id
    if run_id is None:
        return
    with get_client(sync_client=True) as client:
        # Read the tags afresh: the run context holds them as they were when the run started.
        current = client.read_flow_run(run_id).tags
        client.update_flow_run(run_id, name=name, tags=sorted(set(current) | set(tags)))
