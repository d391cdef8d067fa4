"""The package installs with its data: a wheel built from this checkout, installed into a fresh venv
outside it, runs `township init` and `township check` from an unrelated folder with the catalog and
the expectation suites it ships. Slow (builds and installs), so marked `system`; no network: the
dependencies come from the test venv through a .pth file, the wheel is installed with --no-deps."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.review_helpers import csv_form

ROOT = Path(__file__).resolve().parent.parent


def not_source(folder: str, names: list[str]) -> set[str]:
    """What a copy of the checkout for building leaves out: environments, outputs, build leftovers."""
    top = {".venv", ".git", "data", "test-output", "build", ".pytest_cache"} if Path(folder) == ROOT else set()
    if Path(folder) == ROOT / "bench":
        top = {"out"}  # generated benchmark inboxes (a province: gigabytes)
    return {n for n in names if n in top or n == "__pycache__" or n.endswith(".egg-info")}

# One worker builds and installs the wheel once for both tests (a module fixture is per worker under xdist).
pytestmark = [pytest.mark.system, pytest.mark.xdist_group("wheel")]


def run(cmd: list, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a fresh venv holding only the wheel (dependencies visible through a .pth)."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=not_source)  # build from a copy: the checkout gets no build/ folder
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                 "-w", base / "dist", "."], cwd=src)
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next((base / "dist").glob("township_indicators-*.whl"))

    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    site = Path(run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=base)
                .stdout.strip())
    # The test venv's packages, but not its editable install of this checkout (.pth files of a
    # directory added this way are not processed, so the editable finder stays off).
    (site / "test-venv-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    got = run([py, "-m", "pip", "install", "--no-deps", "--no-index", wheel], cwd=base)
    assert got.returncode == 0, got.stdout + got.stderr
    return env_dir / "bin"


def clean_env(cwd: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOWNSHIP_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(cwd), PREFECT_HOME=str(cwd / ".prefect"))
    return env


def test_the_wheel_ships_its_data_and_imports_from_the_install(installed, tmp_path):
    out = run([installed / "python", "-c",
               "import township, tasks.gx as g, township.settings as s; "
               "print(township.__file__); print(s.DEFAULT_CATALOG_DIR); print(g.suite_path('submissions'))"],
              cwd=tmp_path, env=clean_env(tmp_path))
    assert out.returncode == 0, out.stderr
    module, catalog, suite = (Path(line) for line in out.stdout.split())
    venv_dir = installed.parent
    for p in (module, catalog, suite):
        assert venv_dir in p.parents and ROOT not in p.parents, p
    assert sorted(f.name for f in catalog.glob("*.yaml")) == [
        "indicators.yaml", "reporters.yaml", "targets.yaml", "township.yaml", "units.yaml"]
    assert suite.is_file()


def test_init_and_check_run_from_the_installed_wheel(installed, tmp_path):
    env = clean_env(tmp_path)
    init = run([installed / "township", "init"], cwd=tmp_path, env=env)
    assert init.returncode == 0, init.stdout + init.stderr
    assert "at revision" in init.stdout and "reporter: 18 inserted" in init.stdout
    assert (tmp_path / "data" / "warehouse.db").is_file()  # the default warehouse, relative to the cwd

    good = tmp_path / "invest" / "oct.csv"
    good.parent.mkdir()
    good.write_bytes(csv_form([("investment_funds", 1.2, 9.2), ("investment_funds_yrd", 0.4, 3.4)],
                              period="2021-10"))
    ok = run([installed / "township", "check", good], cwd=tmp_path, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "已接收" in ok.stdout and "accepted" in ok.stdout

    # The suite was loaded from the package: a part above its total is caught and its cell named.
    bad = tmp_path / "invest" / "bad.csv"
    bad.write_bytes(csv_form([("investment_funds", 1.2, 9.2), ("investment_funds_yrd", 0.4, 9.9)],
                             period="2021-10"))
    no = run([installed / "township", "check", bad], cwd=tmp_path, env=env)
    assert no.returncode == 1, no.stdout + no.stderr
    assert "E_PART_EXCEEDS_TOTAL" in no.stdout and "E3" in no.stdout
