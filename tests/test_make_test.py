"""`make test` on a fresh machine: what the tests need from the machine is installed, or named, before any test."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "test-deps.sh"


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    # A PATH with no apt-get: the branch a machine without root (or without Debian's tools) takes.
    tools = tmp_path / "bin"
    tools.mkdir(exist_ok=True)
    for tool in ("ls", "id"):
        if not (tools / tool).exists():
            (tools / tool).symlink_to(shutil.which(tool))
    return subprocess.run(["/bin/bash", str(SCRIPT)], capture_output=True, text=True, timeout=60,
                          env={"PATH": str(tools), **env})


def test_a_missing_browser_is_one_instruction_and_a_failure_before_any_test(tmp_path):
    done = _run(tmp_path, TOWNSHIP_TEST_CHROMIUM=str(tmp_path / "no-chromium"), TOWNSHIP_TEST_POSTGRES_URL="x")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "apt-get install -y --no-install-recommends chromium" in done.stderr


def test_nothing_to_install_when_the_machine_has_it(tmp_path):
    done = _run(tmp_path, TOWNSHIP_TEST_CHROMIUM="/bin/sh", TOWNSHIP_TEST_POSTGRES_URL="x")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_make_test_and_ci_run_the_script_first():
    plan = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MAKEFLAGS": ""}).stdout.splitlines()
    assert plan.index("scripts/test-deps.sh") < next(i for i, c in enumerate(plan) if "pytest" in c)
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("make test")
