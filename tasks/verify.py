"""Verify published vintage folders: re-hash every file against the folder's manifest.json.

A vintage folder is written once and never changed; anything that differs from its manifest was
changed afterwards (by hand, by a tool, by a disk) and is reported with a stable V_* code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from tasks.exports import sha256_file

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


def verify_folder(folder: Path) -> list[Damage]:
    """Every difference between the vintage folder and its manifest (empty: intact)."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return [Damage("V_MANIFEST_MISSING", folder, MANIFEST)]
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


def verify_publish_dir(publish_dir: str | Path, township: str | None = None,
                       period: str | None = None) -> tuple[list[Path], list[Damage]]:
    """Verify every vintage folder under the publish folder: (folders checked, damages found)."""
    folders = vintage_folders(publish_dir, township, period)
    return folders, [d for f in folders for d in verify_folder(f)]


def published_intact(folder: Path) -> bool:
    """For publish: False if the vintage folder does not exist yet (write it), True if it exists and
    matches its manifest (leave it alone); raises VintageDamaged if it exists and does not."""
    if not folder.exists():
        return False
    damages = verify_folder(folder)
    if damages:
        raise VintageDamaged(damages)
    return True
