"""`make test` on a fresh machine: what the tests need from the machine is installed, or named, before any test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


def test_the_tests_on_the_shared_prefect_stack_are_one_xdist_group(tmp_path):
    """`make test` runs two workers with --dist loadgroup: the tests on the one Prefect stack must reach one worker
    together, or each worker starts its own stack and they race on its logs. Seen by the workers themselves (pytest
    9.2 moved the node id where pytest-xdist 3.8 adds the group, and the grouping silently stopped)."""
    (tmp_path / "seen_ids.py").write_text(
        "import os\n"
        "def pytest_collection_finish(session):\n"
        "    worker = os.environ.get('PYTEST_XDIST_WORKER', 'controller')\n"
        f"    with open(os.path.join({str(tmp_path)!r}, worker + '.ids'), 'w') as f:\n"
        "        f.write('\\n'.join(i.nodeid for i in session.items))\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "seen_ids", "-p", "no:cacheprovider", "-n", "2",
                           "--dist", "loadgroup", "--setup-plan", "-q", "tests/system/test_deployments.py",
                           "tests/system/test_prefect_yaml.py"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode in (0, 5), done.stdout + done.stderr
    ids = (tmp_path / "gw0.ids").read_text().splitlines()
    grouped = [i for i in ids if i.endswith("@prefect-stack")]
    deployments = [i for i in ids if i.startswith("tests/system/test_deployments.py::")]
    assert len(deployments) >= 7 and grouped == deployments, ids  # every one of them, and only them
    assert not any("test_prefect_yaml" in i and "@" in i for i in ids)  # no stack, no group: spread
