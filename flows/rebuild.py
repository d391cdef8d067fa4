"""The rebuild flow (manual): rebuild a warehouse from the archive alone and compare it with the live one."""

from __future__ import annotations

import tempfile
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.naming import rebuild_run_name
from flows.runners import PrefectRunner
from tasks.rebuild import rebuild_and_compare
from township.periods import Period
from warehouse.runtime import open_runtime


@flow(name="rebuild", flow_run_name=rebuild_run_name)
def rebuild(archive: str | None = None, warehouse_url: str | None = None, target_url: str | None = None) -> dict:
    """Rebuild into `target_url` (default: a new SQLite file in a temp folder) and compare with the live one."""
    log = get_run_logger()
    live = open_runtime(archive=archive, warehouse_url=warehouse_url)
    target_url = target_url or f"sqlite:///{Path(tempfile.mkdtemp(prefix='township-rebuild-')) / 'warehouse.db'}"
    target = open_runtime(archive=archive, warehouse_url=target_url)
    summary, diff = rebuild_and_compare(live, target, Period.current(live.settings.tz), PrefectRunner())
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
