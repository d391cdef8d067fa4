"""The inbox and the archive, read and written through fsspec so a URL (s3://, sftp://) can replace a folder.

Files are identified by content (sha256). Unchanged files (same path, size and mtime as last seen)
are not read again, so a run over tens of thousands of processed files costs one listing.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import logging
import os
import posixpath
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import fsspec
from fsspec.implementations.local import LocalFileSystem
import numpy as np
import pandas as pd

from township.conflicts import Conflict
from township.errors import UserError
from township.settings import get_settings
from township.text import printable

FORM_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv")
UNKNOWN_FOLDER = "_unknown"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
log = logging.getLogger(__name__)
T, R = TypeVar("T"), TypeVar("R")


@dataclass
class Incoming:
    """A file pulled from the inbox this run, with its bytes."""

    path: str  # relative to the inbox root, '/'-separated, printable (township.text.printable)
    folder: str  # first path component ('' for the inbox root): the reporter's identity
    name: str
    size: int
    mtime_ns: int
    sha256: str
    data: bytes
    # set when the file was refused before reading (not a regular file, too large): its receipt's
    # conflict. Nothing of it was read; sha256 then identifies the refusal, not the content.
    refused: Conflict | None = None

    @property
    def received_at(self) -> dt.datetime:
        # whole microseconds (what databases keep), computed exactly from the integer nanoseconds
        return EPOCH + dt.timedelta(microseconds=self.mtime_ns // 1000)


def _fs(root: str):  # noqa: ANN202
    fs, path = fsspec.core.url_to_fs(root)
    return fs, path.rstrip("/")


def _local(root: str) -> Path | None:
    """The folder, when the root is on this machine: then plain os calls are used, several times faster
    than fsspec's generic ones over 32,000 files (same results)."""
    return _local_folder(root)


@lru_cache(maxsize=64)
def _local_folder(root: str) -> Path | None:
    # resolved once per root: fsspec's url_to_fs costs ~0.2 ms, and a province month writes 160,000 files
    fs, path = fsspec.core.url_to_fs(root)
    return Path(path) if isinstance(fs, LocalFileSystem) else None


IO_THREADS = 8  # files written at once: a write waits on the disk (rename, allocation), not on Python


def io_map(fn: Callable[[T], R], items: list[T]) -> list[R | OSError]:
    """fn(item) for each item, in threads (a file write releases the GIL while it waits on the disk), results
    in the items' order; an OSError comes back in place of its item's result, any other exception is raised."""
    def one(item: T) -> R | OSError:
        try:
            return fn(item)
        except OSError as e:
            return e
    if len(items) < 2:
        return [one(i) for i in items]
    with ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="file-io") as pool:
        return list(pool.map(one, items))


# what a non-regular entry is, as a receipt says it (zh / en)
KINDS = {"symlink": "符号链接 symbolic link", "directory link": "指向文件夹的链接 link to a folder",
         "fifo": "命名管道 FIFO", "socket": "套接字 socket", "device": "设备文件 device", "other": "特殊文件 special file"}


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "other"


def ignored(name: str) -> bool:
    """Files an editor or an operating system leaves beside a form while it is open or copied, never a
    submission (docs/submissions.md): Office owner files ~$x.xlsx, LibreOffice .~lock.x.xlsx#, macOS
    ._x.xlsx and .DS_Store, Windows Thumbs.db / desktop.ini. Any other file, dotfiles too, gets a receipt."""
    return name.startswith(("~$", ".~lock.", "._")) or name in (".DS_Store", "Thumbs.db", "desktop.ini")


def _walk_local(base: Path) -> list[tuple[str, str, int, int, str]]:
    """(source, shown path, size, mtime_ns, kind) of every entry; nothing is followed or opened: lstat only,
    and a linked folder is listed as one entry, not walked into. One scandir per folder, whose entries say
    what is a folder or a link without a syscall each (os.walk plus islink cost two lstat per reporter folder)."""
    out: list[tuple[str, str, int, int, str]] = []

    def walk(folder: str, rel_dir: str) -> None:
        try:
            entries = list(os.scandir(folder))
        except OSError:  # unreadable or gone since listed: skipped, as os.walk does
            return
        for entry in entries:
            name = entry.name
            rel = f"{rel_dir}{name}"
            try:
                is_folder = entry.is_dir()  # a link to a folder too
            except OSError:
                is_folder = False
            # hidden folders are a sync tool's or a version control's (.git, .stfolder, .Trash-1000); 回执
            # holds the receipts we return (two per form sent: never listed, so not walked either)
            if is_folder and (name.startswith(".") or name == "回执"):
                continue
            if is_folder and not entry.is_symlink():
                walk(entry.path, f"{rel}/")
                continue
            if ignored(name):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # gone since the folder was read (an editor's temporary file)
                continue
            kind = "directory link" if is_folder else _kind(st.st_mode)
            out.append((rel, printable(rel), st.st_size, st.st_mtime_ns, kind))

    walk(str(base), "")
    return out


def _walk_fsspec(fs, base: str) -> list[tuple[str, str, int, int, str]]:  # noqa: ANN001
    """As _walk_local, through fsspec: links are reported where the filesystem says so (islink)."""
    out = []
    for dirpath, dirs, files in fs.walk(base, detail=True, topdown=True):
        rel_dir = dirpath[len(base) + 1:]
        for name in [d for d in dirs if d.startswith(".") or dirs[d].get("islink")]:
            info = dirs.pop(name)  # prune: never walk into hidden or linked folders
            if info.get("islink") and not name.startswith("."):
                files[name] = {**info, "type": "directory link"}
        for name, info in files.items():
            if ignored(name) or not name:
                continue
            m = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
            if isinstance(m, dt.datetime):
                m = m.timestamp()
            kind = ("directory link" if info.get("type") == "directory link" else "symlink" if info.get("islink")
                    else "file" if info.get("type") == "file" else "other")
            rel = f"{rel_dir}/{name}" if rel_dir else name
            size = int(info.get("size") or 0) if kind == "file" else 0  # a link's size is its target's
            out.append((rel, printable(rel), size, int(round(float(m) * 1e9)), kind))
    return out


LISTING_COLUMNS = ["path", "folder", "name", "size", "mtime_ns", "kind", "source"]


def list_inbox(root: str) -> pd.DataFrame:
    """Every entry under the inbox: path (relative, printable), folder, name, size, mtime_ns, kind ('file',
    or what else it is: symlink, fifo…) and source (the path as the filesystem spells it, to open it).
    Hidden folders and editor/OS leftovers (`ignored`) are left alone. A missing inbox is the user's to fix."""
    local = _local(root)
    if local is not None:
        if not local.is_dir():
            raise _missing_inbox(root)
        found = _walk_local(local)
    else:
        fs, base = _fs(root)
        if not fs.isdir(base):
            raise _missing_inbox(root)
        found = _walk_fsspec(fs, base)
    cols = list(zip(*found)) or [()] * 5
    # source stays a Python object column: a name that is not UTF-8 holds surrogates, which Arrow strings refuse
    df = pd.DataFrame({"source": pd.Series(cols[0], dtype="object"), "path": pd.Series(cols[1], dtype="str"),
                       "size": pd.Series(cols[2], dtype="int64"), "mtime_ns": pd.Series(cols[3], dtype="int64"),
                       "kind": pd.Series(cols[4], dtype="str")})
    dup = df["path"].duplicated(keep=False).tolist()
    if any(dup):  # 'a\xff.csv' named so, and a name with the byte 0xff: each keeps a path of its own
        def tagged(p: str, src: str) -> str:  # a tag before the suffix, which tells the reader the file type
            stem, suffix = posixpath.splitext(p)
            return f"{stem}~{hashlib.sha256(os.fsencode(src)).hexdigest()[:8]}{suffix}"

        df["path"] = pd.Series([tagged(p, src) if d and p != src else p
                                for p, src, d in zip(df["path"], df["source"], dup)], dtype="str", index=df.index)
    # receipts returned to reporters (tasks/receipts.py) are never taken as submissions
    df = df.loc[np.array(["回执" not in p.split("/") for p in df["path"]], dtype=bool)]
    parts = [p.split("/") for p in df["path"]]
    df["folder"] = pd.Series([p[0] if len(p) > 1 else "" for p in parts], dtype="str", index=df.index)
    df["name"] = pd.Series([p[-1] for p in parts], dtype="str", index=df.index)
    return df[LISTING_COLUMNS].sort_values("path").reset_index(drop=True)


def _missing_inbox(root: str) -> UserError:
    return UserError(f"收件箱文件夹不存在：{root}（请检查设置 TOWNSHIP_INBOX）",
                     f"the inbox folder does not exist: {root} (check the setting TOWNSHIP_INBOX)",
                     fix="TOWNSHIP_INBOX")


def unseen(listing: pd.DataFrame, seen: pd.DataFrame) -> pd.DataFrame:
    """Listing rows whose (path, size, mtime) differ from what the warehouse saw last time."""
    if seen.empty or listing.empty:
        return listing
    m = listing.merge(seen[["path", "size", "mtime_ns"]], on=["path", "size", "mtime_ns"], how="left",
                      indicator=True)
    return listing[(m["_merge"] == "left_only").to_numpy()].reset_index(drop=True)


class _Refused(Exception):
    def __init__(self, kind: str, size: int = 0) -> None:
        self.kind, self.size = kind, size


def _mb(n: float) -> str:
    return f"{n / 2**20:,.1f} MB"


def _refusal(path: str, name: str, kind: str, size: int, max_bytes: int) -> Conflict:
    if kind != "file":
        return Conflict("E_FILE_NOT_REGULAR", file_name=name, found=KINDS.get(kind, kind))
    return Conflict("E_FILE_TOO_LARGE", file_name=name, found=f"{_mb(size)} ({size:,} bytes)",
                    expected=f"{_mb(max_bytes)} (TOWNSHIP_MAX_FILE_MB)")


def _read_local(base: Path, source: str, max_bytes: int) -> bytes:
    """The file's bytes, opened without following any link on the way (each folder and the file itself
    with O_NOFOLLOW, relative to the one above) and without blocking on a FIFO; checked to be a regular
    file of at most max_bytes on the open descriptor, so a swap after the listing changes nothing."""
    parts = source.split("/")
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            try:
                nfd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):  # a link where a folder was
                    raise _Refused("directory link") from e
                raise
            os.close(fd)
            fd = nfd
        try:
            ffd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENXIO, errno.EMLINK):  # a link; a socket
                raise _Refused("symlink" if e.errno != errno.ENXIO else "socket") from e
            raise
    finally:
        os.close(fd)
    with os.fdopen(ffd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise _Refused(_kind(st.st_mode))
        if st.st_size > max_bytes:
            raise _Refused("file", st.st_size)
        data = f.read(max_bytes + 1)  # a file still growing is cut off here, never read whole
    if len(data) > max_bytes:
        raise _Refused("file", len(data))
    return data


def _read_fsspec(fs, full: str, max_bytes: int) -> bytes:  # noqa: ANN001
    info = fs.info(full)
    if info.get("islink") or info.get("type") != "file":
        raise _Refused("symlink" if info.get("islink") else "other")
    if int(info.get("size") or 0) > max_bytes:
        raise _Refused("file", int(info["size"]))
    with fs.open(full, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _Refused("file", len(data))
    return data


def fetch(root: str, rows: pd.DataFrame, max_bytes: int | None = None) -> list[Incoming]:
    """Read and hash the given inbox files. What is not a regular file, or is over max_bytes (default:
    the setting TOWNSHIP_MAX_FILE_MB), is not read at all: it comes back refused, with its conflict."""
    if max_bytes is None:
        max_bytes = get_settings().max_file_bytes
    fs, base = _fs(root)
    local = _local(root)
    out = []
    sources = rows["source"] if "source" in rows else rows["path"]
    kinds = rows["kind"] if "kind" in rows else ["file"] * len(rows)
    for source, path, folder, name, size, mtime, kind in zip(sources, rows["path"], rows["folder"], rows["name"],
                                                             rows["size"], rows["mtime_ns"], kinds):
        size, mtime = int(size), int(mtime)
        try:
            if kind != "file" or size > max_bytes:  # decided from the listing's lstat: nothing opened
                raise _Refused(kind, size)
            data = _read_local(local, source, max_bytes) if local is not None else _read_fsspec(
                fs, f"{base}/{source}", max_bytes)
        except OSError as e:
            # gone since the listing (an editor's temporary file), or not readable by the pipeline: left
            # for the next run, which lists it again; it must not stop the others
            log.warning("inbox file %s not read, left for the next run: %s", path, e)
            continue
        except _Refused as r:
            conflict = _refusal(path, name, r.kind, r.size, max_bytes)
            # identity of the refusal (what was found where, when), not of content that was never read
            key = f"refused\0{r.kind}\0{path}\0{size}\0{mtime}".encode("utf-8", "surrogateescape")
            out.append(Incoming(path, folder, name, size, mtime, hashlib.sha256(key).hexdigest(), b"", conflict))
            continue
        out.append(Incoming(path, folder, name, size, mtime, hashlib.sha256(data).hexdigest(), data))
    return out


def fetch_named(path: Path, folder: str, max_bytes: int | None = None) -> Incoming | None:
    """A file named on the command line (`township check`), read exactly as the inbox reads its files: a link
    is not followed, a FIFO, socket or device is not opened and a file over max_bytes (default: the setting)
    is not read (each comes back refused, with the conflict its receipt names), and no read goes past
    max_bytes. None if it cannot be read (gone, or no permission). FileNotFoundError if there is nothing."""
    st = path.lstat()
    row = pd.DataFrame({"source": [path.name], "path": [f"{folder}/{path.name}" if folder else path.name],
                        "folder": [folder], "name": [path.name], "size": [st.st_size],
                        "mtime_ns": [st.st_mtime_ns], "kind": [_kind(st.st_mode)]})
    got = fetch(str(path.parent), row, max_bytes)
    return got[0] if got else None


ARCHIVE_NAME_BYTES = 100  # of the name part: sha256 + '-' + name + '.receipt.json' stays far below 255


def safe_name(name: str, limit: int = ARCHIVE_NAME_BYTES) -> str:
    """A name any filesystem and fsspec URL can hold: printable, no separators, at most `limit` UTF-8
    bytes, its suffix kept (the original name stays in the warehouse and the receipt)."""
    text = printable(name).replace("/", "_").replace("\\", "_").strip() or "_"
    if len(text.encode("utf-8")) <= limit:
        return text
    stem, dot, suffix = text.rpartition(".")
    suffix = f".{suffix}" if dot and stem and len(suffix.encode("utf-8")) <= 16 else ""
    stem = stem if suffix else text
    room = limit - len(suffix.encode("utf-8")) - 1
    return stem.encode("utf-8")[:room].decode("utf-8", "ignore") + "~" + suffix


def archive_relpath(reporter: str, period: str | None, sha256: str, name: str) -> str:
    return f"{safe_name(reporter) if reporter else UNKNOWN_FOLDER}/{period or 'unknown'}/{sha256}-{safe_name(name)}"


def _write_then_rename(tmp: str, full: str, data: bytes) -> None:
    """data written to tmp, then renamed to full (atomic: a reader sees the old file or the whole new one), making
    the folder if it is missing. Plain os calls on str paths: a province month writes ~160,000 files, and Python's
    file objects and pathlib cost tens of microseconds each (file objects also fstat, ioctl and seek)."""
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(tmp), exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, full)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def archive(root: str, relpath: str, data: bytes) -> str:
    """Write the raw bytes once. An existing archived file is never overwritten (same name = same hash)."""
    local = _local(root)
    if local is not None:
        full = f"{local}/{relpath}"
        if not os.path.exists(full):
            _write_then_rename(f"{full}.part", full, data)  # the reporter's month folder made at its first file
        return relpath
    fs, base = _fs(root)
    full = f"{base}/{relpath}"
    if not fs.exists(full):
        fs.makedirs(posixpath.dirname(full), exist_ok=True)
        tmp = full + ".part"
        with fs.open(tmp, "wb") as f:
            f.write(data)
        fs.mv(tmp, full)
    return relpath


def _libc_syncfs():  # noqa: ANN202
    try:
        import ctypes

        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):  # not Linux: os.sync() below
        return None
    fn.argtypes = [ctypes.c_int]
    return fn


_SYNCFS = _libc_syncfs()


def make_durable(root: str) -> None:
    """Everything written under a local root reaches the disk before the caller records that it exists: one
    syncfs(2) of the root's filesystem for a whole batch (an fsync per file cost ~2 ms each: 4 minutes for
    a province month's 130,000 receipt files). Raises OSError if the disk reports a write error.
    Object stores (fsspec URLs) acknowledge a write once it is stored: nothing to do."""
    local = _local(root)
    if local is None or not local.exists():
        return
    if _SYNCFS is None:
        os.sync()
        return
    fd = os.open(local, os.O_RDONLY)
    try:
        if _SYNCFS(fd) != 0:
            import ctypes

            err = ctypes.get_errno()
            raise OSError(err, f"syncfs {local}: {os.strerror(err)}")
    finally:
        os.close(fd)


def write_beside(root: str, relpath: str, suffix: str, text: str) -> None:
    """Write a text file next to an archived file (receipts), atomically: a reader (or a run that is
    killed meanwhile) sees the old file or the whole new one, never a part or an empty file. Durable once
    `make_durable(root)` has returned (called once per batch)."""
    local = _local(root)
    tmp_suffix = f"{suffix}.tmp-{os.getpid()}"
    if local is not None:
        # a refused file's receipt has no archived file beside it, and a new 回执 folder: made then
        _write_then_rename(f"{local}/{relpath}{tmp_suffix}", f"{local}/{relpath}{suffix}", text.encode("utf-8"))
        return
    fs, base = _fs(root)
    fs.makedirs(posixpath.dirname(f"{base}/{relpath}"), exist_ok=True)
    with fs.open(f"{base}/{relpath}{tmp_suffix}", "w", encoding="utf-8") as f:
        f.write(text)
    fs.mv(f"{base}/{relpath}{tmp_suffix}", f"{base}/{relpath}{suffix}")


def list_archive(root: str) -> pd.DataFrame:
    """Archived raw files: relpath, reporter folder, sha256, original name (receipts excluded)."""
    fs, base = _fs(root)
    cols = ["relpath", "folder", "sha256", "name"]
    if not fs.exists(base):
        return pd.DataFrame(columns=cols)
    rows = []
    for full in fs.find(base):
        rel = full[len(base) + 1:]
        parts = rel.split("/")
        if len(parts) != 3 or rel.endswith((".receipt.json", ".receipt.md", ".part")) or ".tmp-" in parts[2]:
            continue  # receipts, and half-written files a killed run left
        sha, _, name = parts[2].partition("-")
        rows.append((rel, parts[0], sha, name))
    return pd.DataFrame(rows, columns=cols)


REFUSAL_CODES = ("E_FILE_NOT_REGULAR", "E_FILE_TOO_LARGE")


def refused_items(root: str) -> list[Incoming]:
    """The files refused unread (fetch): only their receipts are archived, and a rebuild replays them from
    there, so a rebuilt warehouse holds their rejections too."""
    fs, base = _fs(root)
    if not fs.exists(base):
        return []
    out = []
    for full in fs.glob(f"{base}/*/*/*.receipt.json"):
        raw = full[: -len(".receipt.json")]
        if fs.exists(raw):
            continue
        r = json.loads(fs.cat_file(full))
        first = (r.get("conflicts") or [{}])[0]
        if first.get("code") not in REFUSAL_CODES:
            continue
        path = r.get("path") or r["file"]
        parts = path.split("/")
        conflict = Conflict(first["code"], file_name=r["file"], found=first.get("found"),
                            expected=first.get("expected"))
        out.append(Incoming(path, parts[0] if len(parts) > 1 else "", r["file"], 0,
                            int(pd.Timestamp(r["received_at"]).value), r["sha256"], b"", conflict))
    return out


def read_archived(root: str, relpath: str) -> bytes:
    fs, base = _fs(root)
    return fs.cat_file(f"{base}/{relpath}")
