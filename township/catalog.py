"""The catalog: org units, reporters, indicators, units, targets and the deadline rule, validated on load."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from township.periods import Period


class CatalogError(ValueError):
    """The catalog is invalid; the message lists every problem found, each naming its file."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Unit(_Strict):
    unit: str
    family: str
    factor: float = Field(gt=0)


class Township(_Strict):
    code: str
    name: str
    county: str | None = None  # the county's code; may be left out when the catalog has one county


class County(_Strict):
    code: str
    name: str


class Deadline(_Strict):
    day_of_next_month: int = Field(5, ge=1, le=28)
    time: str = "24:00"

    @field_validator("time")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        hh, _, mm = v.partition(":")
        if not (hh.isdigit() and mm.isdigit() and 0 <= int(hh) <= 24 and 0 <= int(mm) < 60):
            raise ValueError(f"deadline time must be HH:MM, got {v!r}")
        if int(hh) == 24 and int(mm) != 0:
            raise ValueError("24:MM is only allowed as 24:00")
        return v


class Reporter(_Strict):
    code: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    township: str
    kind: str
    name: str


ROLES = ("statistician", "leaders")  # a township's or county's people who are not reporters: '<org unit>/<role>'
ENV_REF = re.compile(r"\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Contact(_Strict):
    """How one recipient is reached: an apprise URL under a channel name (mail, dingtalk, wecom...).
    Secrets are written `${ENV_NAME}` and expanded from the environment only when a message is sent."""

    to: str  # a reporter code, or '<township>/statistician' | '<township>/leaders'
    channel: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    url: str

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if "://" not in v:
            raise ValueError(f"contact url must be an apprise URL like mailto://... or json://..., got {v!r}")
        for name in ENV_REF.findall(v):
            if not _ENV_NAME.match(name):
                raise ValueError(f"${{{name}}} is not an environment variable name")
        # user:password@ in plain text is a secret in the repo: it must be a ${ENV_NAME} reference
        m = re.match(r"^[^:]+://[^/@?]*?:([^/@?]*)@", v)
        if m and m.group(1) and not ENV_REF.fullmatch(m.group(1)):
            raise ValueError("a password in a contact url must be written ${ENV_NAME}, never in the catalog")
        return v


class Indicator(_Strict):
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str
    name_en: str
    unit: str
    measure: Literal["flow", "stock"]
    owner: str
    parent: str | None = None
    allow_negative: bool = False
    decimals: int = Field(0, ge=0, le=6)
    aggregation: Literal["owner", "sum_villages"] = "owner"
    headline: int | None = None
    # How the county's figure is made from its townships' signed figures: the sum, or none (not additive,
    # e.g. a rate or an average: the county publishes no total, only the townships' figures and ranks).
    county_aggregation: Literal["sum", "none"] = "sum"


class TargetSet(_Strict):
    township: str  # the org unit the target is set for: a township's code, or a county's (its own total)
    year: int
    values: dict[str, float]


class Catalog(BaseModel):
    """Everything the pipeline knows about who reports what. Built by `load_catalog`."""

    model_config = ConfigDict(frozen=True)

    # township.yaml names one `county:` or several `counties:`; after loading, `counties` lists them all and
    # every township names its county. `county` is the one county of a one-county catalog (None with several).
    county: County | None = None
    counties: list[County] = []
    first_year: int
    deadline: Deadline
    townships: list[Township]
    reporters: list[Reporter]
    units: list[Unit]
    indicators: list[Indicator]
    targets: list[TargetSet]
    contacts: list[Contact] = []

    @model_validator(mode="before")
    @classmethod
    def _one_or_many_counties(cls, data: object) -> object:
        """`county:` alone means a one-county catalog: it becomes `counties`, and townships without a county
        are that county's. With several counties each township must name its own (checked on load)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if not data.get("counties") and data.get("county") is not None:
            data["counties"] = [data["county"]]
        counties = data.get("counties") or []
        if len(counties) == 1 and isinstance(data.get("townships"), list):
            only = counties[0]["code"] if isinstance(counties[0], dict) else getattr(counties[0], "code", None)
            data["county"] = counties[0]
            data["townships"] = [_with_county(t, only) for t in data["townships"]]
        elif len(counties) > 1:
            data["county"] = None
        return data

    @cached_property
    def county_by_code(self) -> dict[str, County]:
        return {c.code: c for c in self.counties}

    def org_unit_name(self, code: str) -> str:
        """A township's or a county's name (the published files are titled with it)."""
        unit = self.township_by_code.get(code) or self.county_by_code.get(code)
        if unit is None:
            raise KeyError(code)
        return unit.name

    def townships_of(self, county: str) -> list[Township]:
        """The county's townships, in catalog order."""
        return [t for t in self.townships if t.county == county]

    @cached_property
    def reporter_by_code(self) -> dict[str, Reporter]:
        return {r.code: r for r in self.reporters}

    @cached_property
    def indicator_by_code(self) -> dict[str, Indicator]:
        return {i.code: i for i in self.indicators}

    @cached_property
    def unit_by_name(self) -> dict[str, Unit]:
        return {u.unit: u for u in self.units}

    @cached_property
    def township_by_code(self) -> dict[str, Township]:
        return {t.code: t for t in self.townships}

    @cached_property
    def _contacts_by_recipient(self) -> dict[str, list[Contact]]:
        out: dict[str, list[Contact]] = {}
        for c in self.contacts:
            out.setdefault(c.to, []).append(c)
        return out

    def contacts_for(self, recipient: str) -> list[Contact]:
        """The channels a recipient is reached by (none: the catalog gives no contact, nothing is sent)."""
        return self._contacts_by_recipient.get(recipient, [])

    def indicators_of(self, reporter_code: str) -> list[Indicator]:
        """The indicators a reporter owns, in catalog order."""
        kind = self.reporter_by_code[reporter_code].kind
        return [i for i in self.indicators if i.owner == kind]

    @cached_property
    def _expected_by_township(self) -> dict[str, list[Reporter]]:
        # Built once: a province catalog has 32,400 reporters, and every township published asks for its own.
        kinds = {i.owner for i in self.indicators}
        out: dict[str, list[Reporter]] = {}
        for r in self.reporters:
            if r.kind in kinds:
                out.setdefault(r.township, []).append(r)
        return out

    def expected_reporters(self, township: str) -> list[Reporter]:
        """Reporters of a township that own at least one indicator (and so must submit monthly)."""
        return list(self._expected_by_township.get(township, []))

    @cached_property
    def _targets_by_unit_year(self) -> dict[tuple[str, int], dict[str, float]]:
        out: dict[tuple[str, int], dict[str, float]] = {}
        for t in self.targets:
            out.setdefault((t.township, t.year), t.values)  # the first set of a township and year counts
        return out

    def target(self, township: str, year: int, indicator: str) -> float | None:
        return self._targets_by_unit_year.get((township, year), {}).get(indicator)

    def deadline_for(self, period: Period, tz: ZoneInfo) -> dt.datetime:
        """The aware datetime by which a period's forms are due (24:00 = start of the next day)."""
        nxt = period.next()
        hh, mm = (int(x) for x in self.deadline.time.split(":"))
        day = dt.date(nxt.year, nxt.month, self.deadline.day_of_next_month)
        base = dt.datetime.combine(day, dt.time(0, 0), tzinfo=tz)
        return base + dt.timedelta(hours=hh, minutes=mm)

    def convert_factor(self, unit: str, canonical: str) -> float | None:
        """Factor turning a value in `unit` into `canonical`, or None if they cannot convert."""
        src, dst = self.unit_by_name.get(unit), self.unit_by_name.get(canonical)
        if src is None or dst is None or src.family != dst.family:
            return None
        return src.factor / dst.factor


def _with_county(township: object, county: str | None) -> object:
    if isinstance(township, dict) and township.get("county") is None:
        return {**township, "county": county}
    if isinstance(township, Township) and township.county is None:
        return township.model_copy(update={"county": county})
    return township


CATALOG_FILES = ("township.yaml", "reporters.yaml", "units.yaml", "indicators.yaml", "targets.yaml")
OPTIONAL_FILES = ("contacts.yaml",)  # a catalog without contacts works: nobody is messaged


def _read_yaml(path: Path) -> dict:
    try:
        # libyaml's loader when present: a province catalog (32,000 reporters) loads 4x faster
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except FileNotFoundError as e:
        raise CatalogError(f"{path}: catalog file is missing") from e
    except yaml.YAMLError as e:
        raise CatalogError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: expected a mapping at the top level")
    return data


def _duplicates(codes: list) -> list:
    seen: set[str] = set()
    return sorted({c for c in codes if c in seen or seen.add(c)})


def catalog_digest(folder: str | Path) -> str:
    """sha256 of the catalog's files and of the code that parses them: what a cached catalog is keyed by."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    folder = Path(folder)
    for name in CATALOG_FILES + OPTIONAL_FILES:
        try:
            data = (folder / name).read_bytes()
        except FileNotFoundError:
            data = b"\0missing"
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def load_catalog_cached(folder: str | Path, cache_dir: str | Path | None) -> Catalog:
    """`load_catalog`, but a catalog already parsed and cross-checked is read back from `cache_dir` (JSON,
    keyed by `catalog_digest`): a province catalog (32,400 reporters) takes ~3 s to parse and ~0.1 s to
    read back. Any change to a catalog file or to this module is a new key; an unreadable or unwritable
    cache is no cache."""
    if not cache_dir:
        return load_catalog(folder)
    path = Path(cache_dir) / f"catalog-{catalog_digest(folder)}.json"
    try:
        return Catalog.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError):
        pass
    catalog = load_catalog(folder)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(catalog.model_dump_json(), encoding="utf-8")
        os.replace(tmp, path)  # atomic: a reader never sees half a file
    except OSError:
        pass
    return catalog


def load_catalog(folder: str | Path | None = None) -> Catalog:
    """Read and cross-check the catalog; raise CatalogError listing every problem with its file."""
    if folder is None:
        from township.settings import get_settings

        folder = get_settings().catalog_dir
    folder = Path(folder)
    raw = {name: _read_yaml(folder / name) for name in CATALOG_FILES}
    raw.update({name: _read_yaml(folder / name) for name in OPTIONAL_FILES if (folder / name).exists()})
    merged = {
        **{k: raw["township.yaml"].get(k) for k in ("county", "counties", "first_year", "deadline", "townships")},
        "reporters": raw["reporters.yaml"].get("reporters"),
        "units": raw["units.yaml"].get("units"),
        "indicators": raw["indicators.yaml"].get("indicators"),
        "targets": raw["targets.yaml"].get("targets") or [],
        "contacts": raw.get("contacts.yaml", {}).get("contacts") or [],
    }
    if merged["deadline"] is None:
        merged["deadline"] = {}
    if merged["counties"] is None:
        merged.pop("counties")
    where = {"county": "township.yaml", "counties": "township.yaml", "first_year": "township.yaml",
             "deadline": "township.yaml",
             "townships": "township.yaml", "reporters": "reporters.yaml", "units": "units.yaml",
             "indicators": "indicators.yaml", "targets": "targets.yaml",
             "contacts": "contacts.yaml"}
    try:
        catalog = Catalog(**merged)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = err["loc"]
            path = ".".join(str(p) for p in loc)
            problems.append(f"{folder / where.get(str(loc[0]), '?')}: {path}: {err['msg']}")
        raise CatalogError("invalid catalog:\n  " + "\n  ".join(problems)) from None
    problems = _cross_check(catalog, folder)
    if problems:
        raise CatalogError("invalid catalog:\n  " + "\n  ".join(problems))
    return catalog


def _cross_check(c: Catalog, folder: Path) -> list[str]:
    f_ind, f_rep, f_units, f_tgt, f_town = (str(folder / n) for n in
                                            ("indicators.yaml", "reporters.yaml", "units.yaml",
                                             "targets.yaml", "township.yaml"))
    problems: list[str] = []
    for code in _duplicates([t.code for t in c.townships]):
        problems.append(f"{f_town}: duplicate township code {code!r}")
    problems += _check_counties(c, f_town)
    for code in _duplicates([r.code for r in c.reporters]):
        problems.append(f"{f_rep}: duplicate reporter code {code!r}")
    for code in _duplicates([u.unit for u in c.units]):
        problems.append(f"{f_units}: duplicate unit {code!r}")
    for code in _duplicates([i.code for i in c.indicators]):
        problems.append(f"{f_ind}: duplicate indicator code {code!r}")
    townships = {t.code for t in c.townships}
    kinds = {r.kind for r in c.reporters}
    for r in c.reporters:
        if r.township not in townships:
            problems.append(f"{f_rep}: reporter {r.code!r} names unknown township {r.township!r}")
    units = c.unit_by_name
    inds = c.indicator_by_code
    for i in c.indicators:
        if i.unit not in units:
            problems.append(f"{f_ind}: indicator {i.code!r} has unknown unit {i.unit!r} "
                            f"(known: {', '.join(units)})")
        if i.owner not in kinds:
            problems.append(f"{f_ind}: indicator {i.code!r} is owned by {i.owner!r}, "
                            f"which no reporter in {f_rep} has as its kind")
        if i.aggregation == "sum_villages" and i.owner != "village":
            problems.append(f"{f_ind}: indicator {i.code!r} sums over villages but is owned by {i.owner!r}")
        if i.parent is None:
            continue
        parent = inds.get(i.parent)
        if parent is None:
            problems.append(f"{f_ind}: indicator {i.code!r} has unknown parent {i.parent!r}")
            continue
        if parent.code == i.code:
            problems.append(f"{f_ind}: indicator {i.code!r} is its own parent")
        if i.unit in units and parent.unit in units and units[i.unit].family != units[parent.unit].family:
            problems.append(f"{f_ind}: indicator {i.code!r} ({i.unit}) cannot be part of "
                            f"{parent.code!r} ({parent.unit}): different unit families")
        if parent.measure != i.measure or parent.owner != i.owner:
            problems.append(f"{f_ind}: indicator {i.code!r} must have the same measure and owner "
                            f"as its parent {parent.code!r}")
    f_contacts = str(folder / "contacts.yaml")
    reporters = c.reporter_by_code
    for k in c.contacts:
        town, _, role = k.to.partition("/")
        if k.to not in reporters and not ((town in townships or town in c.county_by_code) and role in ROLES):
            problems.append(f"{f_contacts}: contact for {k.to!r}, which is neither a reporter code nor "
                            f"'<township or county>/{'|'.join(ROLES)}'")
    for to, channel in _duplicates([(k.to, k.channel) for k in c.contacts]):
        problems.append(f"{f_contacts}: {to!r} has two contacts named {channel!r}")
    for t in c.targets:
        if t.township not in townships and t.township not in c.county_by_code:
            problems.append(f"{f_tgt}: targets for unknown township or county {t.township!r}")
        for code in t.values:
            if code not in inds:
                problems.append(f"{f_tgt}: target for unknown indicator {code!r} ({t.township} {t.year})")
    return problems


def _check_counties(c: Catalog, f_town: str) -> list[str]:
    """One county or several, each township in a known one; county and township codes share one namespace
    (both are org units in the warehouse)."""
    problems: list[str] = []
    if not c.counties:
        problems.append(f"{f_town}: no county: give `county:` (one county) or `counties:` (several)")
    for code in _duplicates([k.code for k in c.counties]):
        problems.append(f"{f_town}: duplicate county code {code!r}")
    clash = {k.code for k in c.counties} & {t.code for t in c.townships}
    for code in sorted(clash):
        problems.append(f"{f_town}: {code!r} is both a county and a township code (they share the org units)")
    known = c.county_by_code
    for t in c.townships:
        if t.county is None:
            problems.append(f"{f_town}: township {t.code!r} names no county (required when there are several)")
        elif t.county not in known:
            problems.append(f"{f_town}: township {t.code!r} names unknown county {t.county!r} "
                            f"(known: {', '.join(known)})")
    for k in c.counties:
        if not c.townships_of(k.code):
            problems.append(f"{f_town}: county {k.code!r} has no township")
    return problems
