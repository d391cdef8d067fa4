"""Load the catalog into the warehouse's reference tables: insert what is new, update what changed."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, Table, insert, inspect, select, update

from township.catalog import Catalog
from warehouse.models import Indicator, OrgUnit, Reporter, Target, Unit


@dataclass
class SyncCounts:
    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(self.inserted.values()) or any(self.updated.values())


def _catalog_rows(c: Catalog) -> list[tuple[Table, list[str], list[dict]]]:
    org = [{"code": k.code, "name": k.name, "kind": "county", "parent_code": None} for k in c.counties]
    org += [{"code": t.code, "name": t.name, "kind": "township", "parent_code": t.county} for t in c.townships]
    return [
        (OrgUnit.__table__, ["code"], org),
        (Unit.__table__, ["unit"], [u.model_dump() for u in c.units]),
        (Indicator.__table__, ["code"], [
            {"code": i.code, "name": i.name, "name_en": i.name_en, "unit": i.unit, "measure": i.measure,
             "owner_kind": i.owner, "parent_code": i.parent, "allow_negative": i.allow_negative,
             "decimals": i.decimals, "aggregation": i.aggregation, "headline": i.headline,
             "county_aggregation": i.county_aggregation}
            for i in c.indicators]),
        (Reporter.__table__, ["code"], [
            {"code": r.code, "township_code": r.township, "kind": r.kind, "name": r.name}
            for r in c.reporters]),
        (Target.__table__, ["township_code", "year", "indicator_code"], [
            {"township_code": t.township, "year": t.year, "indicator_code": k, "value": float(v)}
            for t in c.targets for k, v in t.values.items()]),
    ]


def sync_catalog(engine: Engine, catalog: Catalog) -> SyncCounts:
    """Make the reference tables match the catalog, in one transaction. Rows are never deleted:
    submissions and published vintages refer to them."""
    counts = SyncCounts()
    with engine.begin() as conn:
        for table, key, rows in _catalog_rows(catalog):
            # A warehouse at an older revision (upgraded step by step) lacks the newer columns: sync what it has.
            present = {c["name"] for c in inspect(conn).get_columns(table.name)}
            rows = [{k: v for k, v in r.items() if k in present} for r in rows]
            cols = [table.c[k] for k in key]
            existing = {tuple(r[:len(key)]): dict(r._mapping) for r in
                        conn.execute(select(*cols, *[c for c in table.c if c.name not in key and c.name in present]))}
            new = [r for r in rows if tuple(r[k] for k in key) not in existing]
            changed = [r for r in rows if tuple(r[k] for k in key) in existing
                       and existing[tuple(r[k] for k in key)] != r]
            if new:
                conn.execute(insert(table), new)
            for r in changed:
                cond = [table.c[k] == r[k] for k in key]
                conn.execute(update(table).where(*cond).values(**{k: v for k, v in r.items() if k not in key}))
            counts.inserted[table.name] = len(new)
            counts.updated[table.name] = len(changed)
    return counts
