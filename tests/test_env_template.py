"""The configuration documents itself: every setting is in `.env.template` and the README's table, and
the docs cite the template by its real name."""

from __future__ import annotations

from pathlib import Path

from township.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_in_the_env_template_and_the_readme():
    names = [f"TOWNSHIP_{name.upper()}" for name in Settings.model_fields]
    template = (ROOT / ".env.template").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert [n for n in names if f"{n}=" not in template] == []
    assert [n for n in names if f"`{n}`" not in readme] == []


def test_docs_name_the_env_template_that_exists():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        assert ".env.example" not in doc.read_text(encoding="utf-8"), doc
