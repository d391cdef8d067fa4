"""Hostile and odd files in the inbox (issues 9, 15, 16): links, FIFOs, sockets, bombs, huge files, names a
filesystem allows but nothing else expects. Each gets a coded receipt; nothing of it is read or followed
where it must not be; and the good files beside it always load. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.intake_helpers import run_intake, write_csv

SEPT = [("investment_funds", 1.0, 8.0), ("investment_funds_yrd", 0.5, 3.0), ("projects_signed", 2, 15)]
FISCAL = [("fiscal_revenue", 10, 100)]
SECRET = "TOP-SECRET-注释"


def inbox(rt) -> Path:
    return Path(rt.settings.inbox)


def archive_text(rt) -> str:
    """Everything in the archive (raw files and receipts) as one text, to look for leaks."""
    out = []
    for p in Path(rt.settings.archive).rglob("*"):
        if p.is_file():
            out.append(p.read_bytes().decode("utf-8", "replace"))
    return "\n".join(out)


def receipt_of(summary, name: str) -> dict:
    return next(r for r in summary.receipts if r["file"] == name)


def codes_of(summary, name: str) -> list[str]:
    return [c["code"] for c in receipt_of(summary, name)["conflicts"]]


def loaded_files(rt) -> set[str]:
    with rt.engine.connect() as conn:
        return set(conn.execute(text("SELECT file_name FROM submission WHERE status <> 'rejected'")).scalars())


def conflict_text(rt) -> str:
    with rt.engine.connect() as conn:
        rows = conn.execute(text("SELECT found, expected, note, message_zh, message_en FROM conflict")).all()
    return "\n".join(str(v) for r in rows for v in r)


def _run_with_deadline(rt, seconds: float = 120):
    """Intake in a thread, so that a hang (a FIFO opened for reading) fails the test instead of blocking it."""
    box: dict = {}
    t = threading.Thread(target=lambda: box.update(summary=run_intake(rt)), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "intake hung"
    return box["summary"]


# --- item 9.1: links and special files are never followed, read, archived or echoed ---

def _plant_specials(rt, tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"  # a readable file outside the inbox, laid out as a form with a bad value
    secret.write_text("reporter_code,period,indicator_code,month_value,ytd_value,unit,note\n"
                      f"econ,2021-09,industrial_output,{SECRET},1,,{SECRET}\n", encoding="utf-8")
    secret_dir = tmp_path / "secret_dir"
    secret_dir.mkdir()
    (secret_dir / "x.csv").write_bytes(secret.read_bytes())
    (inbox(rt) / "econ").mkdir(parents=True, exist_ok=True)
    (inbox(rt) / "agri").mkdir(parents=True, exist_ok=True)
    os.symlink(secret, inbox(rt) / "econ" / "link.csv")
    os.symlink(secret_dir, inbox(rt) / "econ" / "linkdir")
    os.symlink(secret_dir, inbox(rt) / "social")  # a whole reporter folder that is a link
    os.mkfifo(inbox(rt) / "agri" / "pipe.csv")


def test_links_fifos_and_sockets_get_a_receipt_and_nothing_of_them_is_read(runtime, tmp_path, monkeypatch):
    write_csv(inbox(runtime), "invest", "sept.csv", SEPT, period="2021-09")
    _plant_specials(runtime, tmp_path)
    sock = socket.socket(socket.AF_UNIX)
    try:
        with monkeypatch.context() as here:  # bound by a relative name: a socket's path is limited to 107 bytes
            here.chdir(inbox(runtime) / "agri")
            sock.bind("s.csv")
        s = _run_with_deadline(runtime)
    finally:
        sock.close()
    assert loaded_files(runtime) == {"sept.csv"}
    for name in ("link.csv", "linkdir", "social", "pipe.csv", "s.csv"):
        r = receipt_of(s, name)
        assert r["status"] == "rejected" and codes_of(s, name) == ["E_FILE_NOT_REGULAR"], name
        assert name in r["conflicts"][0]["message_zh"] and r["conflicts"][0]["message_en"]
    assert "命名管道" in receipt_of(s, "pipe.csv")["conflicts"][0]["message_zh"]
    # the target's content is nowhere: not archived, not in a receipt, not in the warehouse
    assert SECRET not in archive_text(runtime)
    assert SECRET not in conflict_text(runtime)
    assert not list(Path(runtime.settings.archive).rglob("*-link.csv"))  # only its receipt is kept
    assert list(Path(runtime.settings.archive).rglob("*-link.csv.receipt.json"))
    # seen once: the next run has nothing new
    again = _run_with_deadline(runtime)
    assert (again.files_new, again.duplicates) == (0, 0)


def test_a_rebuild_replays_refused_files_from_their_receipts(runtime, tmp_path):
    from tasks.rebuild import compare_warehouses, rebuild_into
    from township.periods import Period
    from warehouse.runtime import open_runtime

    write_csv(inbox(runtime), "invest", "sept.csv", SEPT, period="2021-09")
    _plant_specials(runtime, tmp_path)
    huge = inbox(runtime) / "finance" / "huge.csv"
    huge.parent.mkdir()
    with open(huge, "wb") as f:
        f.truncate(30 * 2**20)
    _run_with_deadline(runtime)
    target = open_runtime(warehouse_url=f"sqlite:///{tmp_path / 'rebuilt.db'}")
    try:
        summary = rebuild_into(target, runtime.settings.archive, Period(2021, 11))
        assert summary.rejected == 5
        diff = compare_warehouses(runtime.engine, target.engine)
        assert diff["identical"], diff
    finally:
        target.engine.dispose()


def test_links_are_not_followed_through_fsspec_either(runtime, tmp_path, monkeypatch):
    import tasks.inbox

    monkeypatch.setattr(tasks.inbox, "_local", lambda root: None)  # the generic fsspec path, on a local folder
    write_csv(inbox(runtime), "invest", "sept.csv", SEPT, period="2021-09")
    _plant_specials(runtime, tmp_path)
    s = _run_with_deadline(runtime)
    assert loaded_files(runtime) == {"sept.csv"}
    for name in ("link.csv", "linkdir", "social", "pipe.csv"):
        assert codes_of(s, name) == ["E_FILE_NOT_REGULAR"], name
    assert SECRET not in archive_text(runtime) and SECRET not in conflict_text(runtime)


def test_a_file_swapped_for_a_link_after_listing_is_not_followed(runtime, tmp_path):
    from tasks.inbox import fetch, list_inbox

    write_csv(inbox(runtime), "invest", "sept.csv", SEPT, period="2021-09")
    listing = list_inbox(runtime.settings.inbox)
    secret = tmp_path / "secret.csv"
    secret.write_text(SECRET, encoding="utf-8")
    target = inbox(runtime) / "invest" / "sept.csv"
    target.unlink()
    os.symlink(secret, target)
    [item] = fetch(runtime.settings.inbox, listing)
    assert item.refused is not None and item.refused.code == "E_FILE_NOT_REGULAR" and item.data == b""


def test_a_file_gone_or_unreadable_since_the_listing_is_left_for_the_next_run(runtime):
    from tasks.inbox import fetch, list_inbox

    write_csv(inbox(runtime), "invest", "sept.csv", SEPT, period="2021-09")
    gone = write_csv(inbox(runtime), "finance", "~tmp.csv", FISCAL, period="2021-09")
    listing = list_inbox(runtime.settings.inbox)
    gone.unlink()
    assert [i.name for i in fetch(runtime.settings.inbox, listing)] == ["sept.csv"]


# --- issue 15 item 3: empty and missing inbox ---

def test_an_empty_inbox_is_nothing_new(runtime):
    s = run_intake(runtime)
    assert (s.files_listed, s.files_new, s.receipts) == (0, 0, [])


def test_a_missing_inbox_is_a_user_error_naming_the_setting(runtime):
    from township.errors import UserError

    inbox(runtime).rmdir()
    with pytest.raises(UserError) as e:
        run_intake(runtime)
    assert e.value.fix == "TOWNSHIP_INBOX"
    assert "TOWNSHIP_INBOX" in e.value.message_en and "收件箱" in e.value.message_zh


# --- issue 16 item 1: names the filesystem holds but nothing else expects ---

def test_long_chinese_and_undecodable_names_get_receipts_and_do_not_stop_others(runtime):
    write_csv(inbox(runtime), "invest", "sept.csv", SEPT, period="2021-09")
    long_zh = "长" * 56 + ".csv"  # 60 characters, 172 bytes
    long_bytes = "a" * 246 + ".csv"  # 250 bytes, the most a name may have
    write_csv(inbox(runtime), "finance", long_zh, FISCAL, period="2021-09")
    write_csv(inbox(runtime), "tourism", long_bytes, [("no_such_indicator", 1, 1)], period="2021-09")
    bad = os.path.join(os.fsencode(inbox(runtime) / "econ"), b"bad\xff\xfename.csv")
    os.makedirs(os.path.dirname(bad), exist_ok=True)
    src = write_csv(inbox(runtime), "econ", "tmp.csv", [("industrial_output", 5, 50)], period="2021-09")
    os.rename(src, bad)
    # the same name once more, written out: its printable form is the other's, yet each is its own file
    write_csv(inbox(runtime), "econ", "bad\\xff\\xfename.csv", [("industrial_output", 6, 56)], period="2021-09")
    s = run_intake(runtime)
    bad_names = sorted(r["file"] for r in s.receipts if r["file"].startswith("bad\\xff\\xfename"))
    assert len(bad_names) == 2 and bad_names[0] == "bad\\xff\\xfename.csv"
    assert {"sept.csv", long_zh, *bad_names} == loaded_files(runtime)
    assert receipt_of(s, long_bytes)["status"] == "rejected"
    for p in Path(runtime.settings.archive).rglob("*"):
        assert len(p.name.encode()) <= 200, p.name
    receipts = [json.loads(p.read_text(encoding="utf-8"))
                for p in Path(runtime.settings.archive).rglob("*.receipt.json")]
    assert {r["file"] for r in receipts} >= {long_zh, long_bytes, "bad\\xff\\xfename.csv"}
    again = run_intake(runtime)
    assert (again.files_new, again.duplicates) == (0, 0)


# --- issue 16 item 9: editor leftovers ignored by design; other dotfiles answered; relative paths ---

def test_editor_leftovers_are_ignored_and_other_dotfiles_get_a_receipt(runtime):
    write_csv(inbox(runtime), "invest", "sept.csv", SEPT, period="2021-09")
    (inbox(runtime) / "invest" / "~$sept.xlsx").write_bytes(b"\x05user")
    (inbox(runtime) / "invest" / ".~lock.sept.xlsx#").write_text("user,host", encoding="utf-8")
    (inbox(runtime) / "invest" / "._sept.csv").write_bytes(b"\x00\x05\x16\x07")
    write_csv(inbox(runtime), "finance", ".oct.csv", FISCAL, period="2021-09")
    s = run_intake(runtime)
    assert {r["file"] for r in s.receipts} == {"sept.csv", ".oct.csv"}
    assert loaded_files(runtime) == {"sept.csv", ".oct.csv"}


def test_wrong_folder_receipt_shows_the_path_relative_to_the_inbox(runtime):
    write_csv(inbox(runtime), "nobody", "oct.csv", FISCAL, reporter="finance", period="2021-09")
    s = run_intake(runtime)
    [c] = receipt_of(s, "oct.csv")["conflicts"]
    assert c["code"] == "E_WRONG_FOLDER" and (c["expected"], c["found"]) == ("<inbox>/finance/", "<inbox>/nobody/oct.csv")
    assert str(inbox(runtime)) not in c["message_zh"] + c["message_en"]


# --- issue 16 item 2: text the warehouse stores is fitted the same way on both databases ---

def test_nul_bytes_and_long_names_are_stored_fitted_and_the_batch_loads(runtime):
    ytd = 0.0
    for i, month in enumerate((1.0, 1.5, 2.5)):
        ytd += month
        write_csv(inbox(runtime), "invest", f"good{i}.csv", [("investment_funds", month, ytd)], period=f"2021-0{i + 1}")
    write_csv(inbox(runtime), "finance", "nul.csv", [("fiscal_revenue", "1.6\x006", 10)], period="2021-09")
    write_csv(inbox(runtime), "econ", "note.csv", [("industrial_output", 5, 5, "", "说明\x00\x1b[31m红")],
              period="2021-01")
    long_name = "报表" * 20 + "a" * 100 + ".csv"  # 144 characters (224 bytes): over conflict.sheet's 128
    write_csv(inbox(runtime), "tourism", long_name, [("no_such_indicator", 1, 1)], period="2021-09")
    s = run_intake(runtime)
    assert {"good0.csv", "good1.csv", "good2.csv", "note.csv"} <= loaded_files(runtime)
    assert codes_of(s, "nul.csv") == ["E_VALUE_NOT_NUMBER"]
    assert receipt_of(s, long_name)["status"] == "rejected"
    with runtime.engine.connect() as conn:
        found = conn.execute(text("SELECT c.found FROM conflict c JOIN submission s ON s.id = c.submission_id "
                                  "WHERE s.file_name = 'nul.csv'")).scalar_one()
        sheet, file_name = conn.execute(text(
            "SELECT c.sheet, s.file_name FROM conflict c JOIN submission s ON s.id = c.submission_id "
            "WHERE s.file_name LIKE '报表报表%'")).one()
        note = conn.execute(text("SELECT note FROM value_history WHERE reporter_code = 'econ'")).scalar_one()
    assert found == "1.6\\x006"  # the NUL is shown where it was, not silently dropped
    assert len(sheet) == 128 and sheet.endswith("…") and file_name == long_name
    assert note == "说明\\x00\\x1b[31m红"


# --- issue 9 item 2: limits checked before parsing ---

def _good_form(reporter: str = "econ", period: str = "2021-09") -> bytes:
    from tests.forms import simple_form

    return simple_form([["industrial_output", "工业总产值", "万元", 5, 50, ""]],
                       block=[[f"单位代码：{reporter}", None, f"报告期：{period}"]])


def _rezip(base: bytes, replace: dict[str, object]) -> bytes:
    """The workbook `base` with parts replaced or added: bytes, or an iterable of byte chunks (streamed,
    so that a test can write a part far larger than its memory)."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED,
                                                                    compresslevel=1) as dst:
        for info in src.infolist():
            if info.filename not in replace:
                dst.writestr(info.filename, src.read(info.filename))
        for name, content in replace.items():
            if isinstance(content, bytes):
                dst.writestr(name, content)
                continue
            with dst.open(name, "w", force_zip64=True) as f:
                for chunk in content:
                    f.write(chunk)
    return out.getvalue()


SHEET = "xl/worksheets/sheet1.xml"
_NS = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'


def _filler(total: int, chunk: bytes = b" " * 2**20):
    yield _NS + b"<sheetData>"
    for _ in range(total // len(chunk)):
        yield chunk
    yield b"</sheetData></worksheet>"


def _read(data: bytes, name: str):
    from tasks.read_form import read_form_columns
    from township.conflicts import FormError

    try:
        read_form_columns(data, name)
    except FormError as e:
        return e.conflict
    return None


def test_an_xlsx_declaring_more_than_the_uncompressed_limit_is_refused_unparsed():
    bomb = _rezip(_good_form(), {SHEET: _filler(250 * 2**20)})  # 250 MB of XML in a ~250 KB file
    assert len(bomb) < 2 * 2**20
    c = _read(bomb, "bomb.xlsx")
    assert c.code == "E_FILE_TOO_LARGE" and "TOWNSHIP_MAX_UNCOMPRESSED_MB" in c.expected and "MB" in c.found


def test_an_xlsx_part_expanding_beyond_the_ratio_is_refused():
    c = _read(_rezip(_good_form(), {SHEET: _filler(150 * 2**20, b"\0" * 2**20)}), "zeros.xlsx")
    assert c.code == "E_FILE_TOO_LARGE" and "TOWNSHIP_MAX_COMPRESSION_RATIO" in c.expected
    assert "sheet1.xml" in c.found


def test_entity_expansion_is_refused():
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                         for i in range(1, 10))
              + b']>' + _NS + b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
              b"</sheetData></worksheet>")
    c = _read(_rezip(_good_form(), {SHEET: laughs}), "lolz.xlsx")
    assert c.code == "E_FILE_UNREADABLE" and "DTD" in c.found


@pytest.mark.parametrize("dimension", [True, False])
def test_a_sheet_reaching_row_1048576_is_refused_with_or_without_a_dimension(dimension):
    xml = (_NS + (b'<dimension ref="A1:A1048576"/>' if dimension else b"")
           + b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>code</t></is></c></row>'
           + b'<row r="1048576"><c r="A1048576"><v>1</v></c></row></sheetData></worksheet>')
    c = _read(_rezip(_good_form(), {SHEET: xml}), "tall.xlsx")
    assert c.code == "E_FILE_TOO_LARGE" and "1,048,576 rows" in c.found and "TOWNSHIP_MAX_ROWS" in c.expected


def test_a_sheet_too_wide_is_refused():
    xml = _NS + b'<sheetData><row r="1"><c r="XFD1"><v>1</v></c></row></sheetData></worksheet>'
    c = _read(_rezip(_good_form(), {SHEET: xml}), "wide.xlsx")
    assert c.code == "E_FILE_TOO_LARGE" and "16,384 columns" in c.found


def test_a_zip_entry_larger_than_it_declares_is_refused():
    import io
    import zipfile

    from tasks.form_limits import Limits, _check_part
    from township.conflicts import FormError
    from township.settings import Settings

    data = _rezip(_good_form(), {SHEET: _filler(2 * 2**20)})
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(SHEET)
    info.file_size = 1000  # as a crafted zip would claim, to slip under the limits
    with pytest.raises(FormError) as e:
        _check_part(data, info, "liar.xlsx", Limits.of(Settings()), 200 * 2**20)
    assert e.value.conflict.code == "E_FILE_UNREADABLE" and "larger than its zip entry says" in e.value.conflict.found


def test_truncated_and_renamed_files_are_unreadable_not_crashes():
    good = _good_form()
    assert _read(good, "ok.xlsx") is None
    cut = _read(good[: len(good) // 2], "copying.xlsx")
    assert cut.code == "E_FILE_UNREADABLE" and "still being copied" in cut.found
    pdf = _read(b"%PDF-1.7\n" + b"0" * 5000, "report.xlsx")
    assert pdf.code == "E_FILE_UNREADABLE" and "PDF" in pdf.found


def test_csv_limits_on_lines_and_columns():
    from tests.intake_helpers import HEADER

    tall = (HEADER + "econ,2021-09,industrial_output,1,1,,\n" * 6000).encode()
    assert _read(tall, "tall.csv").code == "E_FILE_TOO_LARGE"
    wide = (HEADER.rstrip("\n") + ",x" * 200 + "\n").encode()
    c = _read(wide, "wide.csv")
    assert c.code == "E_FILE_TOO_LARGE" and "TOWNSHIP_MAX_COLUMNS" in c.expected


def test_a_bomb_and_a_huge_csv_beside_good_files_the_good_ones_load(runtime):
    write_csv(inbox(runtime), "invest", "sept.csv", SEPT, period="2021-09")
    (inbox(runtime) / "econ").mkdir()
    (inbox(runtime) / "econ" / "good.xlsx").write_bytes(_good_form())
    (inbox(runtime) / "econ" / "bomb.xlsx").write_bytes(_rezip(_good_form(), {SHEET: _filler(250 * 2**20)}))
    huge = inbox(runtime) / "finance" / "huge.csv"
    huge.parent.mkdir()
    with open(huge, "wb") as f:  # 300 MB, sparse: takes no disk, and must never be read
        f.write(HEADER_BYTES)
        f.truncate(300 * 2**20)
    s = run_intake(runtime)
    assert loaded_files(runtime) == {"sept.csv", "good.xlsx"}
    assert codes_of(s, "bomb.xlsx") == ["E_FILE_TOO_LARGE"] and codes_of(s, "huge.csv") == ["E_FILE_TOO_LARGE"]
    c = receipt_of(s, "huge.csv")["conflicts"][0]
    assert "300.0 MB" in c["found"] and "TOWNSHIP_MAX_FILE_MB" in c["expected"]
    assert not list(Path(runtime.settings.archive).rglob("*-huge.csv"))  # never archived
    assert list(Path(runtime.settings.archive).rglob("*-huge.csv.receipt.json"))


HEADER_BYTES = b"reporter_code,period,indicator_code,month_value,ytd_value,unit,note\n"


# --- issue 16 item 3: SIGTERM ends intake within seconds, nothing half-done ---

STOPPABLE_CHILD = """
import pathlib, signal, sys, threading, time
from cli.stopping import stop_promptly_on_sigterm
if sys.argv[2] == "on":
    stop_promptly_on_sigterm()  # what `township intake` does first

class TerminationSignal(BaseException):
    pass

def like_prefect(signum, frame):  # Prefect's flow engine installs a SIGTERM handler that raises
    raise TerminationSignal(signum)

signal.signal(signal.SIGTERM, like_prefect)
from warehouse import intake_io
from warehouse.runtime import open_runtime
from tests.intake_helpers import run_intake

def busy_mid_load(conn):  # submissions inserted, not committed; a worker thread still busy (a long read)
    threading.Thread(target=time.sleep, args=(120,)).start()
    pathlib.Path(sys.argv[1]).touch()
    time.sleep(120)

intake_io.LOAD_HOOKS.append(busy_mid_load)
run_intake(open_runtime())
"""


def _sigterm_mid_load(runtime, tmp_path, mode: str) -> tuple[float, int | None]:
    import signal
    import subprocess
    import sys
    import time

    root = Path(__file__).resolve().parent.parent
    marker = tmp_path / f"loading-{mode}"
    child = subprocess.Popen([sys.executable, "-c", STOPPABLE_CHILD, str(marker), mode],
                             env={**os.environ, "PYTHONPATH": str(root)}, cwd=root)
    try:
        deadline = time.time() + 120
        while not marker.exists():
            assert child.poll() is None, "intake ended before reaching the load"
            assert time.time() < deadline, "intake never reached the load"
            time.sleep(0.2)
        t0 = time.monotonic()
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            pass
        return time.monotonic() - t0, child.poll()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_sigterm_ends_intake_within_seconds_and_leaves_nothing_half_done(runtime, tmp_path):
    write_csv(inbox(runtime), "invest", "sept.csv", SEPT, period="2021-09")
    write_csv(inbox(runtime), "finance", "sept.csv", FISCAL, period="2021-09")
    seconds, code = _sigterm_mid_load(runtime, tmp_path, "on")
    assert code is not None and code != 0 and seconds < 15, (seconds, code)
    with runtime.engine.connect() as conn:
        for table in ("submission", "conflict", "value_history", "inbox_file"):
            assert conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one() == 0, table
    assert not list(Path(runtime.settings.archive).rglob("*.part"))
    s = run_intake(runtime)  # the next run does the whole job
    assert (s.accepted, s.imported) == (2, 4)
