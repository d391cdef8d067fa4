"""The rebuild flow (manual): rebuild a warehouse from the archive alone and compare it with the live one."""

from __future__ import annotations

import tempfile
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.naming import rebuild_run_name
from tasks.rebuild import compare_warehouses, rebuild_into
from township.periods import Period
from warehouse.runtime import open_runtime


@task(name="replay the archive into a new warehouse", cache_policy=NO_CACHE)
def replay_task(target, archive_root: str, today: Period):  # noqa: ANN001, ANN201
    return rebuild_into(target, archive_root, today)


@task(name="compare with the live warehouse", cache_policy=NO_CACHE)
def compare_task(live, rebuilt) -> dict:  # noqa: ANN001
    return compare_warehouses(live, rebuilt)


@flow(name="rebuild", flow_run_name=rebuild_run_name)
def rebuild(archive: str | None = None, warehouse_url: str | None = None, target_url: str | None = None) -> dict:
    """Rebuild into `target_url` (default: a new SQLite file in a temp folder) and compare with the live one."""
    log = get_run_logger()
    live = open_runtime(archive=archive, warehouse_url=warehouse_url)
    target_url = target_url or f"sqlite:///{Path(tempfile.mkdtemp(prefix='township-rebuild-')) / 'warehouse.db'}"
    target = open_runtime(archive=archive, warehouse_url=target_url)
    summary = replay_task(target, live.settings.archive, Period.current(live.settings.tz))
    diff = compare_task(live.engine, target.engine)
    verdict = "identical" if diff["identical"] else "DIFFERENT"
    log.info("rebuilt %s from %s: %s (%s)", target_url, live.settings.archive, verdict, diff)
    md = [f"# Rebuild from the archive: {verdict}", "", f"target: `{target_url}`", "",
          "| | live | rebuilt | only live | only rebuilt | different |", "|---|---|---|---|---|---|"]
    md += [f"| {k} | {v['live']} | {v['rebuilt']} | {v['only_live']} | {v['only_rebuilt']} | {v['different']} |"
           for k, v in diff.items() if isinstance(v, dict)]
    create_markdown_artifact(key="rebuild-comparison", markdown="\n".join(md), description="rebuild vs live")
    live.engine.dispose()
    target.engine.dispose()
    return {"target_url": target_url, "files": summary.files_new, **diff}
