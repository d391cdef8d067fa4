"""How long a township's three report charts take to draw (never part of `make test`).

    .venv/bin/python -m bench.charts [--rounds 20]

Draws the charts of one realistic month `rounds` times and files them (SVG with their font subset) into a temporary
folder, after one warm-up round (the font's caches, paid once per process), and prints the mean time per township
and per chart.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from tasks import charts
from tasks.compute import compute_township, monthly_ytd
from township.catalog import load_catalog
from township.periods import Period
from township.settings import DEFAULT_CATALOG_DIR


def month_of_values() -> tuple[pd.DataFrame, pd.DataFrame]:
    """2020-01…2021-10 for every office indicator: the table and trend a township's publish draws from."""
    catalog = load_catalog(DEFAULT_CATALOG_DIR)
    rows = []
    for n, ind in enumerate(i for i in catalog.indicators if i.aggregation == "owner"):
        for year in (2020, 2021):
            for month in range(1, 13 if year == 2020 else 11):
                ytd = (1000.0 + 37 * n) * month * (1.1 if year == 2021 else 1.0)
                rows.append((ind.owner, f"{year}-{month:02d}", ind.code, None, ytd))
    values = pd.DataFrame(rows, columns=["reporter_code", "period", "indicator_code", "month_value", "ytd_value"])
    values["note"] = ""
    table = compute_township(values, catalog, "taoyuan", Period(2021, 10))
    headline = table[table["headline"].notna()].sort_values("headline")["indicator_code"].tolist()
    return table, monthly_ytd(values, catalog, "taoyuan", headline[: charts.TREND_INDICATORS])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    table, trend = month_of_values()
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds + 1):
            folder = Path(tmp) / str(r)
            folder.mkdir()
            start = time.perf_counter()
            paths = [c.write(folder) for c in charts.draw_charts(table, trend, "1-10月", 2021, 10)]
            if r:  # round 0 warms the caches
                times.append(time.perf_counter() - start)
        sizes = [p.stat().st_size for p in paths]
    mean = statistics.mean(times)
    print(f"charts per township: {mean * 1000:.0f} ms (median {statistics.median(times) * 1000:.0f} ms, "
          f"{args.rounds} rounds, {mean / len(paths) * 1000:.0f} ms per chart); SVG sizes {sizes}")


if __name__ == "__main__":
    main()
