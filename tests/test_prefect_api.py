"""Whether a Prefect server is configured, read as Prefect reads it but without importing Prefect:
`township intake` runs as a flow run only when one is (or with --prefect)."""

from __future__ import annotations

import pytest

from cli.prefect_api import configured_api_url

URL = "http://127.0.0.1:4200/api"


@pytest.fixture
def no_prefect_env(monkeypatch, tmp_path):
    for name in ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    work = tmp_path / "work"
    work.mkdir()
    return work


def test_nothing_configured_means_no_server(no_prefect_env):
    assert configured_api_url(no_prefect_env) is None


def test_the_environment_wins(no_prefect_env, monkeypatch):
    (no_prefect_env / ".env").write_text("PREFECT_API_URL=http://elsewhere/api\n")
    monkeypatch.setenv("PREFECT_API_URL", URL)
    assert configured_api_url(no_prefect_env) == URL


@pytest.mark.parametrize("name, text", [
    (".env", f"TOWNSHIP_INBOX=data/inbox\nexport PREFECT_API_URL='{URL}'\n"),
    ("prefect.toml", f'[api]\nurl = "{URL}"\n'),
    ("pyproject.toml", f'[project]\nname = "x"\n[tool.prefect.api]\nurl = "{URL}"\n'),
])
def test_the_working_folder_files_prefect_reads(no_prefect_env, name, text):
    (no_prefect_env / name).write_text(text, encoding="utf-8")
    assert configured_api_url(no_prefect_env) == URL


def test_the_active_profile_as_prefect_config_set_writes_it(no_prefect_env, tmp_path, monkeypatch):
    home = tmp_path / "prefect-home"
    home.mkdir()
    (home / "profiles.toml").write_text(
        f'active = "local"\n[profiles.ephemeral]\n[profiles.local]\nPREFECT_API_URL = "{URL}"\n')
    assert configured_api_url(no_prefect_env) == URL
    monkeypatch.setenv("PREFECT_PROFILE", "ephemeral")  # another profile chosen: it names no server
    assert configured_api_url(no_prefect_env) is None
