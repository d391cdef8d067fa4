"""Generate docs/warehouse.md from the models and views, so the documentation cannot drift.

Run `make docs` (or `python -m warehouse.docs > docs/warehouse.md`); a test fails when the file is stale.
"""

from __future__ import annotations

import inspect

from warehouse.models import Base
from warehouse.views import VIEWS

EXAMPLES = """## Example queries

The month's headline figures, as last published:

```sql
SELECT indicator_name, unit, ytd_value, yoy_pct, target_pct, schedule_gap_pp, vintage, status
FROM monthly_indicators
WHERE township_code = 'taoyuan' AND period = '2021-10'
ORDER BY indicator_code;
```

What was published for October as of 15 November (every vintage is kept):

```sql
SELECT indicator_code, ytd_value, vintage
FROM snapshot_history
WHERE period = '2021-10' AND valid_from <= '2021-11-15'
  AND (valid_to IS NULL OR valid_to > '2021-11-15');
```

Villages that have not reported their collective income for October (blank is not zero):

```sql
SELECT r.code FROM reporter r
WHERE r.kind = 'village' AND r.code NOT IN (
  SELECT reporter_code FROM indicator_values
  WHERE period = '2021-10' AND indicator_code = 'village_collective_income' AND ytd_value IS NOT NULL);
```

Open follow-ups (soft warnings) of October, with the reporter's note:

```sql
SELECT reporter_code, file_name, cell, code, message_zh, note
FROM submission_conflicts WHERE period = '2021-10' AND severity = 'warning';
```

The county's table and each township's rank for October (各乡镇主要指标完成情况表), and the township vintages
behind the county's fixed-asset investment:

```sql
SELECT indicator_name, ytd_value, yoy_pct, target_pct, townships_reported, missing_townships, vintage
FROM county_indicators WHERE county_code = 'demo_county' AND period = '2021-10';

SELECT township_name, ytd_value, yoy_pct, yoy_rank, target_pct, target_rank
FROM township_ranking
WHERE county_code = 'demo_county' AND period = '2021-10' AND indicator_code = 'fixed_asset_investment'
ORDER BY yoy_rank;

SELECT county_vintage, township_code, township_vintage, ytd_value, comparable
FROM county_lineage
WHERE county_code = 'demo_county' AND period = '2021-10' AND indicator_code = 'fixed_asset_investment';
```

County vintages are `snapshot` rows whose org unit is the county (`org_unit.kind = 'county'`): they appear in
`monthly_indicators` and `snapshot_history` too, under the county's code, with the townships counted as its
"reporters"; `county_source` names the township vintage each was built from.

From pandas: `pd.read_sql("SELECT * FROM monthly_indicators", engine)`; from DuckDB:
`ATTACH 'data/warehouse.db' (TYPE sqlite); SELECT * FROM warehouse.monthly_indicators;`.
"""


def render() -> str:
    out = ["# The warehouse",
           "",
           "_Generated from `warehouse/models.py` and `warehouse/views.py` by `make docs`; do not edit._",
           "",
           "Analysts read the **views**: their names and columns are stable. Tables are internal and change",
           "only through migrations (`warehouse/migrations/versions/`). Periods are `YYYY-MM` text; values are",
           "in the indicator's canonical unit; NULL means *not reported*, never 0. On PostgreSQL the role",
           "`analyst` may read the views and nothing else.",
           "",
           "## Views", ""]
    for v in VIEWS:
        out += [f"### `{v.name}`", "", f"Grain: {v.grain}.", "", "| column | meaning |", "|---|---|"]
        out += [f"| `{c}` | {m} |" for c, m in v.columns.items()]
        out.append("")
    out += ["## Tables", ""]
    classes = {m.class_.__table__.name: m.class_ for m in Base.registry.mappers}
    for table in Base.metadata.sorted_tables:  # deterministic: parents before children
        cls = classes[table.name]
        doc = inspect.getdoc(cls) or ""
        out += [f"### `{table.name}`", "", f"Grain: {doc[0].lower() + doc[1:] if doc else ''}", "",
                "| column | type | null | key |", "|---|---|---|---|"]
        for col in table.columns:
            key = "PK" if col.primary_key else (", ".join(f"→ {fk.column.table.name}.{fk.column.name}"
                                                           for fk in col.foreign_keys) or "")
            out.append(f"| `{col.name}` | {col.type} | {'yes' if col.nullable else 'no'} | {key} |")
        out.append("")
    out.append(EXAMPLES)
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
