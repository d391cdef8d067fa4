"""prefect.yaml, checked without a server: every entrypoint imports, its parameters fit the flow, and the
schedules fire exactly when the issue says, in the township's time."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import types
import typing
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from prefect.flows import Flow, load_flow_from_entrypoint
from prefect.server.schemas.schedules import CronSchedule

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
PREFECT_YAML = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
DEPLOYMENTS = {d["name"]: d for d in PREFECT_YAML["deployments"]}


def _accepts(annotation: object, value: object) -> bool:
    """Whether a YAML default fits a parameter annotation (None, bool, str, int; unions of them)."""
    if annotation is inspect.Parameter.empty:
        return True
    args = typing.get_args(annotation) if isinstance(annotation, types.UnionType) or \
        typing.get_origin(annotation) is typing.Union else (annotation,)
    if value is None:
        return type(None) in args
    return any(isinstance(value, a) for a in args if isinstance(a, type))


def test_the_expected_deployments_and_only_those():
    assert set(DEPLOYMENTS) == {"intake", "publish-monthly", "publish-county", "completeness-reminder", "rebuild"}
    for d in DEPLOYMENTS.values():
        assert d["work_pool"]["name"] == "township", d["name"]
        assert d["description"].strip() and d["tags"], d["name"]


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_entrypoint_imports_and_parameters_match_the_flow(name):
    d = DEPLOYMENTS[name]
    flow = load_flow_from_entrypoint(str(ROOT / d["entrypoint"]))
    assert isinstance(flow, Flow)
    signature = inspect.signature(flow.fn)
    hints = typing.get_type_hints(flow.fn)
    # Every parameter of the flow is stated in prefect.yaml (so the deployment documents them all) ...
    assert set(d["parameters"]) == set(signature.parameters), name
    # ... with a default the flow's annotation accepts, and (when not null) equal to the flow's own default.
    for pname, value in d["parameters"].items():
        assert _accepts(hints.get(pname, inspect.Parameter.empty), value), f"{name}.{pname}={value!r}"
        p = signature.parameters[pname]
        assert p.default is inspect.Parameter.empty or value is None or value == p.default, f"{name}.{pname}"


def _fires(deployment: str, start: dt.datetime, days: int) -> list[dt.datetime]:
    end = start + dt.timedelta(days=days)
    out: list[dt.datetime] = []
    for s in DEPLOYMENTS[deployment]["schedules"]:
        assert s["timezone"] == "Asia/Shanghai", deployment
        sched = CronSchedule(cron=s["cron"], timezone=s["timezone"])
        out += asyncio.run(sched.get_dates(n=10_000, start=start, end=end))
    return sorted(d.astimezone(TZ) for d in out if d < end)


def test_intake_every_half_hour_from_8_to_20_every_day():
    # a Saturday and a Sunday: deadline days include weekends
    fires = _fires("intake", dt.datetime(2021, 11, 6, tzinfo=TZ), days=2)
    day = [f"{h:02d}:{m:02d}" for h in range(8, 20) for m in (0, 30)] + ["20:00"]
    assert [f"{d:%H:%M}" for d in fires] == day * 2
    assert {d.date() for d in fires} == {dt.date(2021, 11, 6), dt.date(2021, 11, 7)}


def test_publish_on_the_10th_at_9():
    fires = _fires("publish-monthly", dt.datetime(2021, 11, 1, tzinfo=TZ), days=61)
    assert [f"{d:%m-%d %H:%M}" for d in fires] == ["11-10 09:00", "12-10 09:00"]


def test_county_publish_on_the_12th_at_9_after_the_townships():
    fires = _fires("publish-county", dt.datetime(2021, 11, 1, tzinfo=TZ), days=61)
    assert [f"{d:%m-%d %H:%M}" for d in fires] == ["11-12 09:00", "12-12 09:00"]


def test_reminder_daily_at_9_from_the_1st_to_the_10th():
    fires = _fires("completeness-reminder", dt.datetime(2021, 11, 1, tzinfo=TZ), days=30)
    assert [f"{d:%d %H:%M}" for d in fires] == [f"{day:02d} 09:00" for day in range(1, 11)]


def test_rebuild_is_manual_only():
    assert DEPLOYMENTS["rebuild"]["schedules"] == []


def test_runs_that_must_not_overlap_have_a_concurrency_limit():
    for name in ("intake", "publish-monthly", "publish-county", "rebuild"):
        limit = DEPLOYMENTS[name]["concurrency_limit"]
        assert limit["limit"] == 1, name
    assert DEPLOYMENTS["intake"]["concurrency_limit"]["collision_strategy"] == "ENQUEUE"


def test_pull_steps_need_only_a_plain_checkout():
    steps = [next(iter(s)) for s in PREFECT_YAML["pull"]]
    assert steps == ["prefect.deployments.steps.set_working_directory"]  # no git clone, no remote storage
