"""The `township` command: set up the warehouse, take in submissions, publish months, inspect state."""

from __future__ import annotations

from typing import Annotated, Optional

import sqlalchemy.exc
import typer
from rich.console import Console
from rich.table import Table

from cli.errors import OneLineErrors, hide_log_tracebacks, warehouse_error
from cli.stopping import stop_promptly_on_sigterm
from township.errors import UserError
from township.periods import Period, PeriodError

app = typer.Typer(
    cls=OneLineErrors,
    help="township-indicators: a township's monthly 报表 turned into trusted, published indicators.\n\n"
    "Configuration comes from TOWNSHIP_* environment variables or a .env file (see README). "
    "An error is one line naming what to change; --debug shows its traceback.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@app.callback()
def _options(debug: Annotated[bool, typer.Option("--debug", help="show the traceback of an error")] = False) -> None:
    """Options for every command (OneLineErrors reads --debug from the context; _flows from here)."""
    _state["debug"] = debug


_state = {"debug": False}

WarehouseOpt = Annotated[Optional[str], typer.Option("--warehouse", help="warehouse URL (default: TOWNSHIP_WAREHOUSE_URL)")]
CatalogOpt = Annotated[Optional[str], typer.Option("--catalog", help="catalog folder (default: TOWNSHIP_CATALOG_DIR)")]


def _runtime(migrate: bool = True, **overrides):  # noqa: ANN202
    from township.settings import settings_with
    from warehouse.runtime import open_runtime

    try:
        return open_runtime(migrate=migrate, **overrides)
    except sqlalchemy.exc.SQLAlchemyError as e:  # unreachable server, bad URL, no such database...
        raise warehouse_error(e, settings_with(**overrides).warehouse_url) from e


def _check_warehouse(**overrides: str | None) -> None:
    """Before a flow starts: the warehouse opens and is up to date (else one line, not a failed run's logs)."""
    _runtime(**overrides).engine.dispose()


def _period(text: str | None, option: str = "--period") -> Period | None:
    if text is None:
        return None
    try:
        return Period.parse(text)
    except PeriodError as e:
        raise UserError(f"{option} {text} 不是月份（应写作 2021-10）", f"{option} {text} is not a month: {e}",
                        f"{option} 2021-10") from None


def _flows() -> None:
    """Before running flows: their Prefect API (a temporary server that dies with us, unless PREFECT_API_URL
    names one), and a failing step's traceback kept off the terminal (unless --debug)."""
    from cli.prefect_api import use_prefect_api

    if not _state["debug"]:
        hide_log_tracebacks()
    use_prefect_api()


@app.command()
def init(warehouse: WarehouseOpt = None, catalog: CatalogOpt = None) -> None:
    """Create or upgrade the warehouse schema and load the catalog. Running it twice changes nothing."""
    from warehouse.engine import current_revision
    from warehouse.roles import ensure_analyst_role

    rt = _runtime(warehouse_url=warehouse, catalog_dir=catalog)
    role = ensure_analyst_role(rt.engine)
    console.print(f"warehouse {rt.engine.url.render_as_string(hide_password=True)} at revision "
                  f"{current_revision(rt.engine)}")
    for table, n in rt.sync.inserted.items():
        u = rt.sync.updated.get(table, 0)
        if n or u:
            console.print(f"  {table}: {n} inserted, {u} updated")
    if not rt.sync.changed:
        console.print("  catalog already up to date")
    if role:
        console.print("  role 'analyst' can read the views (and nothing else)")


@app.command("catalog")
def show_catalog(catalog: CatalogOpt = None) -> None:
    """Print the catalog: townships, reporters and the indicators each one reports."""
    rt = _runtime(migrate=False, catalog_dir=catalog)
    c = rt.catalog
    for k in c.counties:
        console.print(f"{k.name} ({k.code}): " + ", ".join(f"{t.name} ({t.code})" for t in c.townships_of(k.code)))
    t = Table("code", "名称", "name", "unit", "measure", "reported by", "parent", "township figure")
    for i in c.indicators:
        t.add_row(i.code, i.name, i.name_en, i.unit, i.measure, i.owner, i.parent or "", i.aggregation)
    console.print(t)
    r = Table("reporter", "名称", "township", "kind", "indicators")
    for rep in c.reporters:
        r.add_row(rep.code, rep.name, rep.township, rep.kind, str(len(c.indicators_of(rep.code))))
    console.print(r)


InboxOpt = Annotated[Optional[str], typer.Option("--inbox", help="inbox folder or URL (default: TOWNSHIP_INBOX)")]
ArchiveOpt = Annotated[Optional[str], typer.Option("--archive", help="archive folder or URL (default: TOWNSHIP_ARCHIVE)")]
PublishOpt = Annotated[Optional[str], typer.Option("--publish-dir", help="publish folder (default: TOWNSHIP_PUBLISH_DIR)")]


@app.command()
def intake(inbox: InboxOpt = None, archive: ArchiveOpt = None, warehouse: WarehouseOpt = None,
           partition: Annotated[Optional[str], typer.Option(
               help="only these townships ('taoyuan,xishan') or bucket k of n ('2/4')")] = None,
           prefect: Annotated[Optional[bool], typer.Option(
               "--prefect/--no-prefect", help="run as a Prefect flow run, seen in the Prefect UI (default: when a "
               "Prefect API is configured: PREFECT_API_URL or the active Prefect profile; --prefect without one "
               "starts a temporary server)")] = None,
           publish_dir: PublishOpt = None) -> None:
    """Pull new files from the inbox, archive them, validate, load what passes, and write receipts; each batch's
    validation is kept in the publish folder's Data Docs (data_docs/index.html)."""
    stop_promptly_on_sigterm()
    from cli.prefect_api import configured_api_url

    if prefect is None:
        prefect = configured_api_url() is not None
    if prefect:
        from flows.intake import intake as intake_flow

        _check_warehouse(warehouse_url=warehouse)
        _flows()
        summary = intake_flow(inbox=inbox, archive=archive, warehouse_url=warehouse, partition=partition,
                              publish_dir=publish_dir)
    else:
        summary = _plain_intake(inbox=inbox, archive=archive, warehouse_url=warehouse, partition=partition,
                                publish_dir=publish_dir)
    if not summary["files_new"]:
        console.print("收件箱没有新文件 / nothing new in the inbox")
    console.print(" · ".join(f"{k} {v}" for k, v in summary.items()), soft_wrap=True)


def _plain_intake(partition: str | None, **overrides: str | None) -> dict:
    """The same intake pipeline as the flow (tasks/intake_pipeline.run_intake), its steps called directly:
    no Prefect server to start (or to reach), so a run is as fast as its work. Logs go to stderr."""
    import logging
    import sys

    from tasks.intake_pipeline import run_intake
    from tasks.receipts import rejection_lines

    handler = logging.StreamHandler(sys.stderr)  # one line per record, never wrapped: cron mails and log files
    handler.setFormatter(logging.Formatter("%(asctime)s | %(levelname)-7s | %(message)s", "%H:%M:%S"))
    log = logging.getLogger("township.intake")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    rt = _runtime(**overrides)
    try:
        summary = run_intake(rt, partition=partition, logger=log, data_docs=True)
    finally:
        rt.engine.dispose()
    for line in rejection_lines(summary):
        log.warning("%s", line)
    return summary.as_dict()


@app.command()
def check(files: Annotated[list[str], typer.Argument(help="form files; the reporter is the file's folder name")],
          reporter: Annotated[Optional[str], typer.Option(help="reporter code, if the folder is not it")] = None,
          warehouse: WarehouseOpt = None) -> None:
    """Dry run: print the receipt each file would get, load nothing. Exit 1 if any would be rejected."""
    from pathlib import Path

    from tasks.batch_review import REJECTED
    from tasks.inbox import fetch_named
    from tasks.intake_pipeline import review_files
    from tasks.receipts import receipt, receipt_markdown
    from township.settings import settings_with

    # A dry run changes nothing, not even the schema: an empty or missing warehouse is no context,
    # and a missing SQLite file stays missing (an empty in-memory database stands in for it).
    url = settings_with(warehouse_url=warehouse).warehouse_url
    rt = _runtime(migrate=False, warehouse_url="sqlite://" if _missing_sqlite(url) else url)
    items = []
    for f in files:
        p = Path(f)
        if p.is_dir() or not (p.exists() or p.is_symlink()):
            raise UserError(f"找不到要检查的文件 {f}", f"no such file to check: {f}", "the FILES argument")
        # as the inbox reads it: a FIFO, a link or a file over TOWNSHIP_MAX_FILE_MB gets its receipt, unread
        item = fetch_named(p, reporter or p.parent.name, rt.settings.max_file_bytes)
        if item is None:
            raise UserError(f"无法读取要检查的文件 {f}", f"cannot read the file to check: {f}", "the FILES argument")
        items.append(item)
    reviewed = review_files(rt, items, Period.current(rt.settings.tz))
    rejected = False
    for sub in reviewed.submissions.to_dict("records"):
        # soft_wrap: a Markdown table row stays one line whatever the terminal's width (a wrapped row breaks it)
        console.print(receipt_markdown(receipt(sub, reviewed.conflicts, None, rt.catalog, rt.settings.tz)),
                      markup=False, highlight=False, soft_wrap=True)
        rejected |= sub["status"] == REJECTED
    raise typer.Exit(1 if rejected else 0)


def _missing_sqlite(url: str) -> bool:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except sqlalchemy.exc.ArgumentError as e:
        raise warehouse_error(e, None) from e
    return u.get_backend_name() == "sqlite" and u.database not in (None, "", ":memory:") \
        and not Path(u.database).exists()


@app.command()
def templates(period: Annotated[str, typer.Option(help="the month, e.g. 2021-10")],
              out: Annotated[str, typer.Option(help="folder to write into")] = "data/templates",
              catalog: CatalogOpt = None) -> None:
    """Write a ready-to-fill Excel 报表 for every reporter: <out>/<reporter>/<reporter>_<period>_报表.xlsx
    (numbers only in the value cells; labels protected)."""
    from pathlib import Path

    from tasks.templates import write_templates

    month = _period(period)
    rt = _runtime(migrate=False, catalog_dir=catalog)
    paths = write_templates(Path(out), rt.catalog, month)
    console.print(f"{len(paths)} templates written under {out}/")


@app.command()
def demo(inbox: InboxOpt = None, first: str = "2020-01", last: str = "2021-12", seed: int = 2021) -> None:
    """Write a realistic demo inbox for the fictional township (2020-01..2021-12, with mistakes and corrections)."""
    from pathlib import Path

    from tasks.demo import write_demo_inbox

    rt = _runtime(migrate=False, inbox=inbox)
    m = write_demo_inbox(Path(rt.settings.inbox), rt.catalog, rt.settings.tz, first=_period(first, "--first"),
                         last=_period(last, "--last"), seed=seed)
    console.print(f"{len(m.files)} demo files written under {rt.settings.inbox}/")


@app.command()
def publish(period: Annotated[Optional[str], typer.Option(help="the month (default: last month)")] = None,
            year: Annotated[Optional[int], typer.Option(help="publish every month of this year, in order")] = None,
            sign_off: Annotated[Optional[str], typer.Option(
                "--sign-off", help="审核人: sign the vintage off under this name (recorded as entered); "
                "without it, only a draft (草稿) is written and nothing is frozen")] = None,
            final: Annotated[bool, typer.Option("--final", help="sign off as final (定报), not preliminary (快报)")] = False,
            comment: Annotated[Optional[str], typer.Option(help="the signer's comment, kept with the vintage")] = None,
            township: Annotated[Optional[str], typer.Option(help="one township (default: all)")] = None,
            county: Annotated[Optional[str], typer.Option(
                help="publish this county's roll-up and township ranking instead, from its townships' latest "
                "signed vintages")] = None,
            warehouse: WarehouseOpt = None, publish_dir: PublishOpt = None) -> None:
    """With --sign-off NAME: freeze the month's vintage signed by NAME (pending revisions of a final month
    become current: a 修订) and write its files and report; nothing new if nothing changed.
    Without: write the unsigned draft (草稿) to <publish_dir>/<township>/<period>/draft/ and freeze nothing.
    With --county CODE: the same for the county (<publish_dir>/<county>/<period>/...), built only from what
    its townships have signed; a township without a signed vintage is 未报."""
    from flows.publish import publish_monthly

    month = _period(period)
    periods = [f"{year}-{m:02d}" for m in range(1, 13)] if year else [str(month) if month else None]
    if county and township:
        raise UserError("--county 与 --township 只能选一个", "give --county or --township, not both", "--county")
    _check_warehouse(warehouse_url=warehouse)
    _flows()
    if county:
        for p in periods:
            _publish_county(county, p, final, sign_off, comment, warehouse, publish_dir)
        return
    for p in periods:
        out = publish_monthly(period=p, final=final, township=township, warehouse_url=warehouse,
                              publish_dir=publish_dir, sign_off=sign_off, comment=comment, draft=not sign_off)
        for code, r in out["townships"].items():
            failed = f"  [red]{r['checks_failed']} snapshot checks failed[/red]" if r["checks_failed"] else ""
            if out.get("draft"):
                console.print(f"{code} {out['period']}: 草稿 draft of v{r['vintage']}, not signed, nothing frozen "
                              f"({r['changes']} changes, {r['pending']} pending revisions) → {r['folder']}/report.html"
                              + failed)
                continue
            console.print(f"{code} {out['period']}: v{r['vintage']} {r['status']}"
                          f"{'' if r['created'] else ' (unchanged)'} → {r['folder']}/report.html" + failed
                          + (f"  {r['revisions_applied']} pending revisions made current" if r["revisions_applied"]
                             else ""))


def _publish_county(county: str, period: str | None, final: bool, sign_off: str | None, comment: str | None,
                    warehouse: str | None, publish_dir: str | None) -> None:
    from flows.publish_county import publish_county_month

    out = publish_county_month(county=county, period=period, final=final, warehouse_url=warehouse,
                               publish_dir=publish_dir, sign_off=sign_off, comment=comment, draft=not sign_off)
    for code, r in out["counties"].items():
        missing = f"  未报 {len(r['missing'])}: {', '.join(r['missing'])}" if r["missing"] else ""
        failed = f"  [red]{r['checks_failed']} snapshot checks failed[/red]" if r["checks_failed"] else ""
        if r.get("draft"):
            console.print(f"{code} {r['period']}: 草稿 draft of county v{r['vintage']}, not signed, nothing frozen "
                          f"({r['changes']} changes) → {r['folder']}/report.html" + missing + failed)
            continue
        console.print(f"{code} {r['period']}: county v{r['vintage']} {r['status']}"
                      f"{'' if r['created'] else ' (unchanged)'} → {r['folder']}/report.html" + missing + failed)


@app.command()
def verify(period: Annotated[Optional[str], typer.Option(help="one month, e.g. 2021-10 (default: all)")] = None,
           township: Annotated[Optional[str], typer.Option(help="one township (default: all)")] = None,
           publish_dir: PublishOpt = None, warehouse: WarehouseOpt = None,
           record: Annotated[bool, typer.Option(help="first record the manifests of intact vintage folders the "
                                                     "warehouse has none for (once, after upgrading)")] = False
           ) -> None:
    """Re-hash every file of every published vintage against its manifest.json, and each manifest against the
    sha256 the warehouse recorded when it was published. Exit 1 if any was altered."""
    from tasks.verify import record_unrecorded, verify_publish_dir
    from warehouse.engine import has_table
    from warehouse.publish_io import recorded_manifests

    # reading: never migrate, unless asked to record (which needs the table)
    rt = _runtime(migrate=record, warehouse_url=warehouse, publish_dir=publish_dir)
    if record:
        for folder in record_unrecorded(rt.engine, rt.settings.publish_dir, township, period):
            console.print(f"recorded / 已记录 {folder}", markup=False, highlight=False)
    recorded = recorded_manifests(rt.engine) if has_table(rt.engine, "vintage_manifest") else None
    if recorded is None:
        console.print("the warehouse records no manifests yet (run `township init`): files checked against their "
                      "manifests only / 数据仓库未升级，仅按清单核对文件", markup=False, highlight=False)
    folders, damages = verify_publish_dir(rt.settings.publish_dir, township, period, recorded)
    for d in damages:
        console.print(d.line(), markup=False, highlight=False)
    console.print(f"{len(folders)} vintage folders checked, "
                  + (f"{len(damages)} problems / 发现{len(damages)}处改动" if damages else "all intact / 全部完好"))
    raise typer.Exit(1 if damages else 0)


@app.command()
def status(period: Annotated[Optional[str], typer.Option(help="the month (default: last month)")] = None,
           township: Annotated[Optional[str], typer.Option(help="one township (default: all)")] = None,
           warehouse: WarehouseOpt = None) -> None:
    """Expected vs received reporters (on time / late / missing) and soft warnings awaiting follow-up."""
    from tasks.signoff import pending_revisions
    from tasks.status import follow_up_list, reporting_status
    from township.periods import Period

    rt = _runtime(migrate=False, warehouse_url=warehouse)  # reading: never migrate or sync the catalog
    tz = rt.settings.tz
    month = _period(period) or Period.previous_month(tz)
    for t in [township] if township else [t.code for t in rt.catalog.townships]:
        st = reporting_status(rt.engine, rt.catalog, t, month, tz)
        table = Table("reporter", "名称", "status", "received", "deadline", title=f"{t} {month}")
        for r in st.to_dict("records"):
            color = {"on_time": "green", "late": "yellow", "missing": "red"}.get(r["status"], "")
            received = "" if r["received_at"] is None or r["received_at"] != r["received_at"] else f"{r['received_at']:%Y-%m-%d %H:%M}"
            table.add_row(r["reporter_code"], r["name"], f"[{color}]{r['status']}[/{color}]", received,
                          f"{r['deadline']:%Y-%m-%d %H:%M}")
        console.print(table)
        pend = pending_revisions(rt.engine, t, month)
        if len(pend):
            pt = Table(*pend.columns, title=f"pending revisions (待签发修订): {t} {month} is final; "
                       "`township publish --sign-off NAME` makes them current")
            for row in pend.astype(str).itertuples(index=False):
                pt.add_row(*row)
            console.print(pt)
        fu = follow_up_list(rt.engine, t, month)
        if len(fu):
            f = Table(*fu.columns, title="follow-up (soft warnings)")
            for row in fu.astype(str).itertuples(index=False):
                f.add_row(*row)
            console.print(f)
    from tasks.outbox import failed_messages  # every undelivered message, whatever its month, needs a look

    for m in failed_messages(rt).to_dict("records"):
        console.print(f"[red]outbox[/red] {m['kind']} {m['period']} to {m['recipient']} via {m['channel']}: not "
                      f"delivered after {m['attempts']} attempt(s), will be retried: {m['last_error']}",
                      soft_wrap=True)


@app.command()
def rebuild(archive: ArchiveOpt = None, warehouse: WarehouseOpt = None,
            target: Annotated[Optional[str], typer.Option(help="warehouse URL to rebuild into (default: temp SQLite)")] = None) -> None:
    """Rebuild a warehouse from the archive alone and compare it with the live one. Exit 1 if they differ."""
    from flows.rebuild import rebuild as rebuild_flow

    _check_warehouse(archive=archive, warehouse_url=warehouse)
    _flows()
    out = rebuild_flow(archive=archive, warehouse_url=warehouse, target_url=target)
    console.print(out)
    raise typer.Exit(0 if out["identical"] else 1)


@app.command()
def cycle(year: Annotated[int, typer.Option(help="the year to replay")] = 2021,
          publish_day: Annotated[int, typer.Option(help="day of the next month the month is published")] = 10,
          warehouse: WarehouseOpt = None) -> None:
    """Replay a year's monthly cycle as it happened: each month, take in what had arrived by the
    publish day (09:00) and publish; then take in the late corrections and publish again, which
    produces vintage 2 wherever a published figure changed. Each month's county roll-up follows its townships'
    (and a county vintage 2 where a township's did). Signed off as the demo signer (演示审核人)."""
    import datetime as dt

    from flows.intake import intake as intake_flow
    from flows.publish import publish_monthly
    from flows.publish_county import publish_county_month
    from tasks.signoff import DEMO_SIGNER
    from township.periods import Period

    rt = _runtime(warehouse_url=warehouse)
    tz = rt.settings.tz
    _flows()
    months = [Period(year, m) for m in range(1, 13)]
    for p in months:
        nxt = p.next()
        cutoff = dt.datetime(nxt.year, nxt.month, publish_day, 9, 0, tzinfo=tz)
        got = intake_flow(warehouse_url=warehouse, received_before=cutoff)
        out = publish_monthly(period=str(p), warehouse_url=warehouse, sign_off=DEMO_SIGNER)
        counties = publish_county_month(period=str(p), warehouse_url=warehouse, sign_off=DEMO_SIGNER)["counties"]
        for code, r in [*out["townships"].items(), *counties.items()]:
            console.print(f"{p}: {got['files_new']} new files ({got['rejected']} rejected) → {code} v{r['vintage']} "
                          f"{r['folder']}/report.html")
    late = intake_flow(warehouse_url=warehouse)
    console.print(f"after the year: {late['files_new']} late files")
    for p in months:
        out = publish_monthly(period=str(p), warehouse_url=warehouse, sign_off=DEMO_SIGNER)
        counties = publish_county_month(period=str(p), warehouse_url=warehouse, sign_off=DEMO_SIGNER)["counties"]
        for code, r in [*out["townships"].items(), *counties.items()]:
            if r["created"]:
                console.print(f"{p}: revised → {code} v{r['vintage']} {r['folder']}/report.html")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
