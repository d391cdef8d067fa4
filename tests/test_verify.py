"""`township verify` and publish find vintage folders altered after publishing; staging leftovers go."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cli.app import app
from tasks.exports import remove_stale_staging
from tasks.publication import publish_township
from tasks.verify import VintageDamaged, verify_folder, verify_publish_dir
from tests.test_snapshot import OCT, seed_october
from tests.values_factory import at, submit

# The vintage folder is the subject; the warehouse only produces it (both backends are covered elsewhere).
SQLITE = pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)


@pytest.fixture
def v1(runtime):
    seed_october(runtime.engine)
    return publish_township(runtime, "taoyuan", OCT, final=False, published_at=at(2021, 11, 10, 1))


def verify_cli(runtime, *args: str):  # noqa: ANN001, ANN201
    return CliRunner().invoke(app, ["verify", "--publish-dir", str(runtime.settings.publish_dir), *args])


def codes(folder) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(d.code, d.file) for d in verify_folder(folder)]


@SQLITE
def test_intact_vintages_verify_clean(runtime, v1):
    assert codes(v1.folder) == []
    out = verify_cli(runtime)
    assert out.exit_code == 0, out.output
    assert "1 vintage folders checked, all intact" in out.output


@SQLITE
def test_a_report_edited_by_hand_is_found_by_verify_and_by_publish(runtime, v1):
    report = v1.folder / "report.md"
    report.write_text(report.read_text(encoding="utf-8").replace("52,345", "62,345"), encoding="utf-8")
    assert codes(v1.folder) == [("V_FILE_CHANGED", "report.md")]
    out = verify_cli(runtime, "--period", "2021-10")
    assert out.exit_code == 1
    assert "V_FILE_CHANGED" in out.output and "report.md" in out.output and "发布后被改动" in out.output
    # publish again with no new figures: not "(unchanged)", but the damage, and the folder left as it is
    with pytest.raises(VintageDamaged, match="V_FILE_CHANGED") as e:
        publish_township(runtime, "taoyuan", OCT, final=False)
    assert [d.code for d in e.value.damages] == ["V_FILE_CHANGED"]
    assert "62,345" in report.read_text(encoding="utf-8")


@SQLITE
def test_a_missing_manifest_is_reported_not_a_directory_error_and_no_staging_is_left(runtime, v1):
    (v1.folder / "manifest.json").unlink()
    assert codes(v1.folder) == [("V_MANIFEST_MISSING", "manifest.json")]
    with pytest.raises(VintageDamaged, match="V_MANIFEST_MISSING"):
        publish_township(runtime, "taoyuan", OCT, final=False)
    assert sorted(p.name for p in v1.folder.parent.iterdir()) == ["v1"]  # no .v1.staging-<pid>


@SQLITE
def test_missing_extra_and_unreadable_manifest_each_have_a_code(runtime, v1):
    (v1.folder / "indicators.csv").unlink()
    (v1.folder / "notes.txt").write_text("added later", encoding="utf-8")
    assert codes(v1.folder) == [("V_FILE_MISSING", "indicators.csv"), ("V_EXTRA_FILE", "notes.txt")]
    (v1.folder / "manifest.json").write_text("{not json", encoding="utf-8")
    assert [c for c, _ in codes(v1.folder)] == ["V_MANIFEST_INVALID"]
    folders, damages = verify_publish_dir(runtime.settings.publish_dir)
    assert folders == [v1.folder] and [d.code for d in damages] == ["V_MANIFEST_INVALID"]


@SQLITE
def test_verify_of_a_publish_folder_walks_every_vintage_and_skips_data_docs(runtime, v1):
    submit(runtime.engine, "econ", "2021-10", {"fixed_asset_investment": (None, 53000.0)}, at(2021, 11, 20))
    v2 = publish_township(runtime, "taoyuan", OCT, final=False, published_at=at(2021, 11, 25, 1))
    (v1.folder.parent.parent.parent / "data_docs").mkdir(exist_ok=True)
    manifest = json.loads((v2.folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["indicators.parquet"] = "0" * 64
    (v2.folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    out = verify_cli(runtime)
    assert out.exit_code == 1
    assert "2 vintage folders checked" in out.output
    assert "V_FILE_CHANGED" in out.output and "v2" in out.output and "v1:" not in out.output


@SQLITE
def test_a_staging_folder_left_by_a_killed_publisher_is_removed_by_the_next_publish(runtime, v1):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()  # a pid that has exited
    leftover = v1.folder.with_name(f".v2.staging-{dead}")
    leftover.mkdir()
    (leftover / "indicators.csv").write_text("half", encoding="utf-8")
    submit(runtime.engine, "econ", "2021-10", {"fixed_asset_investment": (None, 53000.0)}, at(2021, 11, 20))
    v2 = publish_township(runtime, "taoyuan", OCT, final=False, published_at=at(2021, 11, 25, 1))
    assert sorted(p.name for p in v1.folder.parent.iterdir()) == ["v1", "v2"]
    assert codes(v2.folder) == []


def test_a_live_publishers_staging_folder_is_left_alone(tmp_path):
    live = tmp_path / f".v1.staging-{os.getppid()}"
    dead = tmp_path / ".v1.staging-999999999"
    live.mkdir()
    dead.mkdir()
    assert remove_stale_staging(tmp_path) == [dead]
    assert live.is_dir() and not dead.exists()


def rewrite_with_manifest(folder, name: str, old: str, new: str) -> None:  # noqa: ANN001
    """What a careful forger does: change a file and write its new sha256 into manifest.json."""
    from tasks.exports import sha256_file

    path = folder / name
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"][name] = sha256_file(path)
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                          encoding="utf-8")


@SQLITE
def test_a_file_rewritten_with_its_manifest_is_found_by_verify_and_by_publish(runtime, v1):
    rewrite_with_manifest(v1.folder, "report.md", "52,345", "62,345")
    assert codes(v1.folder) == []  # the folder agrees with itself: only the warehouse's record tells
    out = verify_cli(runtime)
    assert out.exit_code == 1, out.output
    assert "V_MANIFEST_REWRITTEN" in out.output and "文件连同清单被改写" in out.output and "v1" in out.output
    with pytest.raises(VintageDamaged, match="V_MANIFEST_REWRITTEN"):
        publish_township(runtime, "taoyuan", OCT, final=False)
    assert "62,345" in (v1.folder / "report.md").read_text(encoding="utf-8")  # left as found, for inspection


@SQLITE
def test_a_vintage_folder_the_warehouse_never_recorded_is_reported(runtime, v1):
    import shutil

    shutil.copytree(v1.folder, v1.folder.with_name("v2"))  # a folder this warehouse never published
    out = verify_cli(runtime)
    assert out.exit_code == 1, out.output
    assert "2 vintage folders checked, 1 problems" in out.output
    assert "V_MANIFEST_UNRECORDED" in out.output and "v2" in out.output and "v1:" not in out.output


def test_the_recorded_manifest_hash_cannot_be_changed_or_deleted(runtime, v1):
    """Both databases refuse to rewrite the record, as they refuse to rewrite the vintage."""
    import sqlalchemy.exc
    from sqlalchemy import text

    from tasks.exports import sha256_file

    with runtime.engine.connect() as conn:
        recorded = conn.execute(text("SELECT manifest_sha256 FROM vintage_manifest WHERE snapshot_id = :i"),
                                {"i": v1.snapshot_id}).scalar_one()
    assert recorded == sha256_file(v1.folder / "manifest.json")
    for sql in ("UPDATE vintage_manifest SET manifest_sha256 = 'x'", "DELETE FROM vintage_manifest"):
        with pytest.raises(sqlalchemy.exc.DatabaseError, match="immutable"):
            with runtime.engine.begin() as conn:
                conn.execute(text(sql))


@SQLITE
def test_verify_record_trusts_intact_vintages_published_before_the_record_once(runtime, v1):
    """A warehouse upgraded to 0008 holds no record of older vintages: --record records the intact ones."""
    from sqlalchemy import text

    with runtime.engine.begin() as conn:  # as before the upgrade: the guard is dropped to stage the past
        conn.execute(text("DROP TRIGGER vintage_manifest_no_delete"))
        conn.execute(text("DELETE FROM vintage_manifest"))
    assert "V_MANIFEST_UNRECORDED" in verify_cli(runtime).output
    out = verify_cli(runtime, "--record")
    assert out.exit_code == 0, out.output
    assert "recorded" in out.output and "1 vintage folders checked, all intact" in out.output
    rewrite_with_manifest(v1.folder, "report.md", "52,345", "62,345")  # from now on, a rewrite is found
    assert "V_MANIFEST_REWRITTEN" in verify_cli(runtime, "--record").output
