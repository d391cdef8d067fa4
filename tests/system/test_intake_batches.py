"""A run with more files than one batch goes through in batches: every file loaded once, counts added up."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from township.settings import get_settings
from flows.intake import intake
from tests.system.support import FORMS, write_test_inbox

pytestmark = pytest.mark.system


def test_intake_in_batches_loads_everything_once(prefect_stack, tmp_path, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    inbox, archive, published = tmp_path / "inbox", tmp_path / "archive", tmp_path / "published"
    write_test_inbox(inbox)
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    monkeypatch.setenv("TOWNSHIP_BATCH_FILES", "1")  # one file a batch: as many batches as files
    get_settings.cache_clear()
    with temporary_settings(updates={PREFECT_API_URL: prefect_stack.api_url}):
        summary = intake(inbox=str(inbox), archive=str(archive), warehouse_url=url, publish_dir=str(published))
        again = intake(inbox=str(inbox), archive=str(archive), warehouse_url=url, publish_dir=str(published))
    assert summary["files_new"] == len(FORMS)
    assert summary["accepted"] + summary["accepted_with_warnings"] == len(FORMS)
    assert summary["imported"] == sum(len(v) for v in FORMS.values())
    assert (again["files_new"], again["imported"]) == (0, 0)
    get_settings.cache_clear()
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM submissions")).scalar_one() == len(FORMS)
        assert conn.execute(text("SELECT COUNT(*) FROM inbox_file")).scalar_one() == len(FORMS)
    engine.dispose()
