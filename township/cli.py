"""The `township` command: set up the warehouse, take in submissions, publish months, inspect state."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from township.catalog import CatalogError

app = typer.Typer(
    help="township-indicators: a township's monthly 报表 turned into trusted, published indicators.\n\n"
    "Configuration comes from TOWNSHIP_* environment variables or a .env file (see README).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

WarehouseOpt = Annotated[Optional[str], typer.Option("--warehouse", help="warehouse URL (default: TOWNSHIP_WAREHOUSE_URL)")]
CatalogOpt = Annotated[Optional[str], typer.Option("--catalog", help="catalog folder (default: TOWNSHIP_CATALOG_DIR)")]


def _runtime(migrate: bool = True, **overrides):  # noqa: ANN202
    from township.runtime import open_runtime

    try:
        return open_runtime(migrate=migrate, **overrides)
    except CatalogError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None


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
    console.print(f"{c.county.name} ({c.county.code}): " + ", ".join(f"{t.name} ({t.code})" for t in c.townships))
    t = Table("code", "名称", "name", "unit", "measure", "reported by", "parent", "township figure")
    for i in c.indicators:
        t.add_row(i.code, i.name, i.name_en, i.unit, i.measure, i.owner, i.parent or "", i.aggregation)
    console.print(t)
    r = Table("reporter", "名称", "township", "kind", "indicators")
    for rep in c.reporters:
        r.add_row(rep.code, rep.name, rep.township, rep.kind, str(len(c.indicators_of(rep.code))))
    console.print(r)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
