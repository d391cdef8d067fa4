"""Verify published vintage folders: re-hash every file against the folder's manifest.json, and the
manifest against the sha256 the warehouse recorded when the folder was published (vintage_manifest).

A vintage folder is written once and never changed; anything that differs from its manifest was
changed afterwards (by hand, by a tool, by a disk) and is reported with a stable V_* code; a manifest
that differs from the warehouse's record was rewritten together with the files it lists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from tasks.exports import sha256_file
from warehouse import publish_io

MANIFEST = "manifest.json"
PERIOD_DIR = re.compile(r"^\d{4}-\d{2}$")
VINTAGE_DIR = re.compile(r"^v\d+$")

# code: (message_zh, message_en); {file} is the file's path inside the vintage folder.
CODES: dict[str, tuple[str, str]] = {
    "V_MANIFEST_MISSING": ("缺少清单 manifest.json，无法证明本版文件未被改动",
                           "manifest.json is missing: the vintage's files cannot be proven unchanged"),
    "V_MANIFEST_INVALID": ("清单 manifest.json 无法读取或格式不对：{detail}",
                           "manifest.json cannot be read or is malformed: {detail}"),
    "V_FILE_CHANGED": ("文件 {file} 与清单记录的校验码不一致（发布后被改动）",
                       "{file} does not match its sha256 in manifest.json (changed after publishing)"),
    "V_FILE_MISSING": ("清单中的文件 {file} 不存在（发布后被删除）",
                       "{file} is listed in manifest.json but missing (deleted after publishing)"),
    "V_EXTRA_FILE": ("文件 {file} 不在清单中（发布后被加入）",
                     "{file} is not listed in manifest.json (added after publishing)"),
    "V_MANIFEST_REWRITTEN": ("清单 manifest.json 与发布时记入数据仓库的校验码不一致（文件连同清单被改写）",
                             "manifest.json does not match the sha256 the warehouse recorded when the vintage was "
                             "published (files rewritten together with their manifest)"),
    "V_MANIFEST_UNRECORDED": ("数据仓库没有本版清单的校验码（记录之前发布的版本，或不是本仓库发布的版本）",
                              "the warehouse recorded no sha256 for this vintage's manifest.json (published before "
                              "it was recorded, or not by this warehouse)"),
}


@dataclass(frozen=True)
class Damage:
    """One difference between a vintage folder and its manifest."""

    code: str
    folder: Path
    file: str = ""
    detail: str = ""

    @property
    def message_zh(self) -> str:
        return CODES[self.code][0].format(file=self.file, detail=self.detail)

    @property
    def message_en(self) -> str:
        return CODES[self.code][1].format(file=self.file, detail=self.detail)

    def line(self) -> str:
        return f"{self.code} {self.folder}: {self.message_zh} / {self.message_en}"


class VintageDamaged(Exception):
    """A published vintage folder no longer matches its manifest: publish refuses to call it unchanged."""

    def __init__(self, damages: list[Damage]):
        self.damages = damages
        super().__init__("; ".join(d.line() for d in damages)
                         + " — 已发布版本被改动，请用 `township verify` 核查 / a published vintage was altered; "
                           "run `township verify`")

    def __reduce__(self) -> tuple:
        # Raised in a worker process (townships publish in parallel), it is pickled back to the caller.
        return (type(self), (self.damages,))


NOT_ASKED = object()  # verify_folder: the warehouse's record was not consulted (files against manifest only)


def verify_folder(folder: Path, recorded: str | None | object = NOT_ASKED) -> list[Damage]:
    """Every difference between the vintage folder and its manifest (empty: intact). recorded: the
    manifest's sha256 the warehouse holds for this vintage (None: it holds none), checked first."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return [Damage("V_MANIFEST_MISSING", folder, MANIFEST)]
    if recorded is None:
        return [Damage("V_MANIFEST_UNRECORDED", folder, MANIFEST), *verify_folder(folder)]
    if recorded is not NOT_ASKED and sha256_file(manifest) != recorded:
        return [Damage("V_MANIFEST_REWRITTEN", folder, MANIFEST), *verify_folder(folder)]
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8"))["files"]
        if not isinstance(listed, dict):
            raise TypeError("'files' is not an object")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        return [Damage("V_MANIFEST_INVALID", folder, MANIFEST, detail=str(e) or type(e).__name__)]
    present = {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))
               if p.is_file() and p.name != MANIFEST}
    damages = []
    for name, digest in sorted(listed.items()):
        path = present.get(name)
        if path is None:
            damages.append(Damage("V_FILE_MISSING", folder, name))
        elif sha256_file(path) != digest:
            damages.append(Damage("V_FILE_CHANGED", folder, name))
    damages += [Damage("V_EXTRA_FILE", folder, name) for name in sorted(set(present) - set(listed))]
    return damages


def vintage_folders(publish_dir: str | Path, township: str | None = None, period: str | None = None) -> list[Path]:
    """Every vintage folder <publish_dir>/<township>/<YYYY-MM>/v<N>, in order (staging folders excluded)."""
    root = Path(publish_dir)
    towns = [root / township] if township else sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    out = []
    for town in towns:
        periods = [town / period] if period else sorted(p for p in town.iterdir() if PERIOD_DIR.match(p.name)) \
            if town.is_dir() else []
        for p in periods:
            if p.is_dir():
                out += sorted((v for v in p.iterdir() if v.is_dir() and VINTAGE_DIR.match(v.name)),
                              key=lambda v: int(v.name[1:]))
    return out


def vintage_key(folder: Path) -> tuple[str, str, int]:
    """<publish_dir>/<org unit>/<period>/v<N> → (org unit, period, N): the vintage's row in the warehouse."""
    return folder.parent.parent.name, folder.parent.name, int(folder.name[1:])


def verify_publish_dir(publish_dir: str | Path, township: str | None = None, period: str | None = None,
                       recorded: Mapping[tuple[str, str, int], str | None] | None = None
                       ) -> tuple[list[Path], list[Damage]]:
    """Verify every vintage folder under the publish folder: (folders checked, damages found). recorded: the
    warehouse's manifest hashes by vintage (publish_io.recorded_manifests); None: files against manifests only."""
    folders = vintage_folders(publish_dir, township, period)
    if recorded is None:
        return folders, [d for f in folders for d in verify_folder(f)]
    return folders, [d for f in folders for d in verify_folder(f, recorded.get(vintage_key(f)))]


def record_unrecorded(engine: Engine, publish_dir: str | Path, township: str | None = None,
                      period: str | None = None) -> list[Path]:
    """Record the manifest of each vintage folder the warehouse has a vintage but no record for, if the folder
    matches its manifest (vintages published before the record existed: trust on first use, asked for once
    after upgrading). Returns the folders recorded."""
    recorded = publish_io.recorded_manifests(engine)
    ids = publish_io.vintage_ids(engine)
    done = []
    for folder in vintage_folders(publish_dir, township, period):
        key = vintage_key(folder)
        if key in recorded and recorded[key] is None and not verify_folder(folder):
            record_published(engine, ids[key], folder)
            done.append(folder)
    return done


def published_intact(engine: Engine, snapshot_id: int, folder: Path) -> bool:
    """For publish: False if the vintage folder does not exist yet (write it, then record_published), True
    if it exists and matches its manifest and the warehouse's record of it (leave it alone; recorded now if it
    was not: a run stopped between the two); raises VintageDamaged if it exists and does not."""
    if not folder.exists():
        return False
    recorded = publish_io.recorded_manifest(engine, snapshot_id)
    damages = verify_folder(folder, NOT_ASKED if recorded is None else recorded)
    if damages:
        raise VintageDamaged(damages)
    if recorded is None:
        record_published(engine, snapshot_id, folder)
    return True


def record_published(engine: Engine, snapshot_id: int, folder: Path) -> None:
    """Record the sha256 of the vintage folder's manifest.json in the warehouse (once)."""
    publish_io.record_manifest(engine, snapshot_id, sha256_file(folder / MANIFEST))
