"""Synthetic benchmark data: a catalog of N townships and one month of their submissions (Excel 报表 and CSV).

Cached under bench/out/<size>/ (gitignored); `python -m bench.generate county` writes one size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xlsxwriter
import yaml

from tasks.templates import CSV_HEADER, CSV_HEADER_ZH, FOOTER, FORM_SHEET, TABLE_FIRST_ROW, TABLE_HEADER
from township.periods import Period
from township.settings import DEFAULT_CATALOG_DIR

OUT = Path(__file__).resolve().parent / "out"
SIZES = {"township": 1, "county": 20, "province": 1800}
PERIOD = Period(2021, 10)
GENERATOR_VERSION = 1  # bump when the generated files change, so caches are rewritten
CATALOG_VERSION = 2  # bump when only the catalog changes (2: counties of 18 townships, county targets)
OFFICES = ("econ", "finance", "invest", "tourism", "agri", "social", "party", "stats")
VILLAGES = 10
# Synthetic extra indicators, so that a form carries ~25 rows on average as a province's forms do:
# every office file ends up with OFFICE_ROWS rows, every village file with VILLAGE_ROWS.
OFFICE_ROWS, VILLAGE_ROWS = 31, 20
CSV_SHARE = 0.10  # share of forms sent as CSV by other systems
REJECT_SHARE = 0.01  # share of forms with a real mistake (rejected whole); t0001_V10 always has one
# cell styles of a reported value: (share, how it is written); all valid per the intake contract
TEXT_COMMAS, TEXT_PLAIN, FULL_WIDTH, NOT_REPORTED = 0.08, 0.05, 0.03, 0.03
_FULL_WIDTH = str.maketrans("0123456789.,", "０１２３４５６７８９．，")
TZ8 = dt.timezone(dt.timedelta(hours=8))


@dataclass(frozen=True)
class Dataset:
    """A generated size: where its catalog and inbox are, and what it holds."""

    size: str
    root: Path
    townships: int
    files: int
    values: int
    excel: int
    csv: int
    rejects: int

    @property
    def catalog_dir(self) -> Path:
        return self.root / "catalog"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    def read_once(self) -> float:
        """Read every inbox file once, so that the limit, ours and the rest all start with the files in the page
        cache (timed first, the limit read them from the disk and ours right after did not: at province size the
        limit measured 44 s cold and ~21 s warm). Returns the seconds it took."""
        start = time.perf_counter()
        for folder, _, names in os.walk(self.inbox):
            for name in names:
                with open(os.path.join(folder, name), "rb") as f:
                    while f.read(1 << 20):
                        pass
        return time.perf_counter() - start


# --- the catalog ---

def bench_indicators() -> list[dict]:
    """The default catalog's indicators plus synthetic ones (x_<kind>_NN), so forms have realistic length."""
    base = yaml.safe_load((DEFAULT_CATALOG_DIR / "indicators.yaml").read_text(encoding="utf-8"))["indicators"]
    out = list(base)
    for kind in (*OFFICES, "village"):
        have = sum(1 for i in base if i["owner"] == kind)
        want = VILLAGE_ROWS if kind == "village" else OFFICE_ROWS
        for k in range(1, want - have + 1):
            stock = k % 5 == 0  # one in five is a month-end level
            out.append({
                "code": f"x_{kind}_{k:02d}", "name": f"{kind}附加指标{k:02d}", "name_en": f"Synthetic {kind} {k}",
                "unit": "个" if stock else "万元", "measure": "stock" if stock else "flow", "owner": kind,
                "decimals": 0 if stock else 2,
                **({"aggregation": "sum_villages"} if kind == "village" else {}),
            })
    return out


def township_codes(n: int) -> list[str]:
    return [f"t{i:04d}" for i in range(1, n + 1)]


TOWNSHIPS_PER_COUNTY = 18  # a province month: 1,800 townships in 100 counties; a county month: one county of 20


def county_of(townships: list[str]) -> dict[str, str]:
    """Each township's county code (c001, ...): one county up to 20 townships, else counties of 18."""
    if len(townships) <= 20:
        return {t: "c001" for t in townships}
    return {t: f"c{i // TOWNSHIPS_PER_COUNTY + 1:03d}" for i, t in enumerate(townships)}


def reporter_codes(township: str) -> list[tuple[str, str]]:
    """(reporter code, kind) of a township: 8 offices then 10 villages, unique across the catalog."""
    return ([(f"{township}_{k}", k) for k in OFFICES]
            + [(f"{township}_V{j:02d}", "village") for j in range(1, VILLAGES + 1)])


def write_catalog(folder: Path, n: int) -> list[dict]:
    """The bench catalog (same files and format as township/data/catalog/*.yaml); returns its indicators."""
    folder.mkdir(parents=True, exist_ok=True)
    default = DEFAULT_CATALOG_DIR
    shutil.copy(default / "units.yaml", folder / "units.yaml")
    base = yaml.safe_load((default / "township.yaml").read_text(encoding="utf-8"))
    codes = township_codes(n)
    counties = county_of(codes)
    base.pop("county", None)
    base["counties"] = [{"code": c, "name": f"基准{c[1:]}县"} for c in dict.fromkeys(counties.values())]
    base["townships"] = [{"code": t, "name": f"基准{t[1:]}镇", "county": counties[t]} for t in codes]
    names = {k: r["name"] for r in yaml.safe_load((default / "reporters.yaml").read_text(encoding="utf-8"))
             ["reporters"] for k in [r["kind"]] if k != "village"}
    reporters = [{"code": code, "township": t, "kind": kind,
                  "name": names.get(kind, f"{code[-3:]}村") if kind != "village" else f"{t}第{code[-2:]}村"}
                 for t in codes for code, kind in reporter_codes(t)]
    indicators = bench_indicators()
    targets_2021 = next(t["values"] for t in yaml.safe_load((default / "targets.yaml").read_text(encoding="utf-8"))
                        ["targets"] if t["year"] == 2021)
    targets = [{"township": t, "year": 2021, "values": targets_2021} for t in codes]
    per_county = {c: sum(1 for t in codes if counties[t] == c) for c in set(counties.values())}
    targets += [{"township": c, "year": 2021, "values": {k: v * k_n for k, v in targets_2021.items()}}
                for c, k_n in sorted(per_county.items())]  # a county's task: its townships' together
    dump = {"township.yaml": base, "reporters.yaml": {"reporters": reporters},
            "indicators.yaml": {"indicators": indicators}, "targets.yaml": {"targets": targets}}
    for name, data in dump.items():
        (folder / name).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200),
                                   encoding="utf-8")
    return indicators


# --- the forms ---

def _cell(value: float, decimals: int, rng: np.random.Generator) -> object:
    """A value as a reporter may type it: mostly a number, sometimes text, commas or full-width digits."""
    r = rng.random()
    if r < TEXT_COMMAS:
        return f"{value:,.{decimals}f}"
    r -= TEXT_COMMAS
    if r < TEXT_PLAIN:
        return f"{value:.{decimals}f}"
    r -= TEXT_PLAIN
    if r < FULL_WIDTH:
        return f"{value:.{decimals}f}".translate(_FULL_WIDTH)
    return round(value, decimals)


def _form_rows(indicators: list[dict], kind: str, rng: np.random.Generator) -> list[tuple]:
    """(code, name, unit, month, ytd) of one reporter's October form, consistent within itself."""
    rows, parent_month, parent_ytd = [], {}, {}
    for ind in indicators:
        if ind["owner"] != kind:
            continue
        d = ind.get("decimals", 0)
        if rng.random() < NOT_REPORTED or (ind.get("parent") and ind["parent"] not in parent_month):
            rows.append((ind["code"], ind["name"], ind["unit"], "—", None))
            continue
        if ind.get("parent"):  # 其中 item: never above its parent
            month, ytd = parent_month[ind["parent"]] * 0.4, parent_ytd[ind["parent"]] * 0.4
        else:
            month = float(rng.uniform(5, 5000)) if d else float(rng.integers(1, 500))
            ytd = month * float(rng.uniform(8, 11))
        month, ytd = round(month, d), round(ytd, d)
        parent_month[ind["code"]], parent_ytd[ind["code"]] = month, ytd
        if ind["measure"] == "stock":
            rows.append((ind["code"], ind["name"], ind["unit"], _cell(month, d, rng), None))
        else:
            rows.append((ind["code"], ind["name"], ind["unit"], _cell(month, d, rng), _cell(ytd, d, rng)))
    return rows


def _with_mistake(rows: list[tuple], rng: np.random.Generator) -> list[tuple]:
    """A real mistake that rejects the form: a percent sign, words in a value, or a typo'd code."""
    rows = list(rows)
    k = int(rng.integers(len(rows)))
    code, name, unit, month, ytd = rows[k]
    kind = int(rng.integers(3))
    if kind == 0:
        rows[k] = (code, name, unit, "12.5%", ytd)
    elif kind == 1:
        rows[k] = (code, name, unit, "约100", ytd)
    else:
        rows[k] = (code + "x", name, unit, month, ytd)
    return rows


def write_excel(path: Path, township_name: str, reporter: str, reporter_name: str, rows: list[tuple]) -> None:
    """The 报表 layout of tasks.templates.write_form (title, header block, table, footer), without styling:
    xlsxwriter with formats costs ~35 ms a file, which is too slow for 32,000 files."""
    book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                           "strings_to_urls": False, "in_memory": True})
    book.set_properties({"created": dt.datetime(2021, 11, 1)})  # same content, same bytes
    sheet = book.add_worksheet(FORM_SHEET)
    period_text = PERIOD.title_zh()
    sheet.merge_range(0, 0, 0, len(TABLE_HEADER) - 1, f"{township_name}主要指标月报表（{period_text}）")
    sheet.write_row(1, 0, ["填报单位：", reporter_name, "单位代码：", reporter, "报告期：", period_text])
    sheet.write_row(TABLE_FIRST_ROW - 1, 0, TABLE_HEADER)
    for i, (code, name, unit, month, ytd) in enumerate(rows, start=TABLE_FIRST_ROW):
        sheet.write_row(i, 0, [code, name, unit])
        for j, v in ((3, month), (4, ytd)):
            if isinstance(v, str):
                sheet.write_string(i, j, v)
            elif v is not None:
                sheet.write_number(i, j, v)
    footer = TABLE_FIRST_ROW + len(rows) + 1
    for k, label in enumerate(FOOTER):
        sheet.write_string(footer, 2 * k, label)
    sheet.write_string(footer + 1, 0, "报出日期：")
    book.close()


def write_csv(path: Path, reporter: str, rows: list[tuple], chinese: bool) -> None:
    """The CSV other systems send (tasks.templates.write_csv_form's columns); GBK with Chinese headers."""
    import csv

    encoding = "gbk" if chinese else "utf-8-sig"
    with path.open("w", encoding=encoding, newline="") as f:
        out = csv.writer(f)
        out.writerow(CSV_HEADER_ZH if chinese else CSV_HEADER)
        for code, name, unit, month, ytd in rows:
            out.writerow([reporter, str(PERIOD), code, name, "" if month is None else month,
                          "" if ytd is None else ytd, unit, ""])


def _write_township(args: tuple) -> dict:
    """Every form of one township; returns counts. Runs in a worker process."""
    inbox, township, indicators, seed = args
    rng = np.random.default_rng(seed)
    counts = {"files": 0, "values": 0, "excel": 0, "csv": 0, "rejects": 0, "rejected_files": []}
    for code, kind in reporter_codes(township):
        rows = _form_rows(indicators, kind, rng)
        if rng.random() < REJECT_SHARE or code == "t0001_V10":
            rows = _with_mistake(rows, rng)
            counts["rejects"] += 1
            counts["rejected_files"].append(code)
        folder = inbox / code
        folder.mkdir(parents=True, exist_ok=True)
        if rng.random() < CSV_SHARE:
            path = folder / f"{code}_{PERIOD}.csv"
            write_csv(path, code, rows, chinese=rng.random() < 0.5)
            counts["csv"] += 1
        else:
            path = folder / f"{code}_{PERIOD}_报表.xlsx"
            name = f"{township}第{code[-2:]}村" if kind == "village" else kind
            write_excel(path, f"基准{township[1:]}镇", code, name, rows)
            counts["excel"] += 1
        # received in the few days before the deadline (the 5th, 24:00)
        when = dt.datetime(2021, 11, 1, 8, tzinfo=TZ8) + dt.timedelta(minutes=float(rng.uniform(0, 4 * 24 * 60)))
        os.utime(path, (when.timestamp(), when.timestamp()))
        counts["files"] += 1
        counts["values"] += len(rows)
    return counts


def generate(size: str, out: Path = OUT, force: bool = False, workers: int | None = None) -> Dataset:
    """The dataset of a size, generated once and then read from the cache."""
    root = out / size
    marker = root / "dataset.json"
    if marker.exists() and not force:
        meta = json.loads(marker.read_text())
        if meta.get("version") == GENERATOR_VERSION:
            if meta.get("catalog_version") != CATALOG_VERSION:  # the forms are unchanged: only the catalog
                write_catalog(root / "catalog", meta["townships"])
                meta["catalog_version"] = CATALOG_VERSION
                marker.write_text(json.dumps(meta, indent=1))
            return Dataset(size=size, root=root, **{k: meta[k] for k in
                                                     ("townships", "files", "values", "excel", "csv", "rejects")})
    shutil.rmtree(root, ignore_errors=True)
    n = SIZES[size]
    indicators = write_catalog(root / "catalog", n)
    started = time.perf_counter()
    jobs = [(root / "inbox", t, indicators, 1000 + i) for i, t in enumerate(township_codes(n))]
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        parts = list(pool.map(_write_township, jobs, chunksize=max(1, len(jobs) // 64)))
    meta = {k: sum(p[k] for p in parts) for k in ("files", "values", "excel", "csv", "rejects")}
    meta.update(version=GENERATOR_VERSION, catalog_version=CATALOG_VERSION, townships=n, period=str(PERIOD),
                rejected_files=[c for p in parts for c in p["rejected_files"]],
                seconds=round(time.perf_counter() - started, 1))
    marker.write_text(json.dumps(meta, indent=1))
    return Dataset(size=size, root=root, **{k: meta[k] for k in
                                             ("townships", "files", "values", "excel", "csv", "rejects")})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("sizes", nargs="+", choices=list(SIZES))
    p.add_argument("--force", action="store_true", help="rewrite even if cached")
    a = p.parse_args()
    for size in a.sizes:
        ds = generate(size, force=a.force)
        print(f"{size}: {ds.files} files ({ds.excel} Excel, {ds.csv} CSV, {ds.rejects} with mistakes), "
              f"{ds.values} values in {ds.root}", file=sys.stderr)


if __name__ == "__main__":
    main()
