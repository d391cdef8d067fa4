"""The one place that decides the environment: warehouse, inbox, archive, publish folder, timezone."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Read from TOWNSHIP_* environment variables (or a `.env` file); defaults work on a fresh clone."""

    model_config = SettingsConfigDict(env_prefix="TOWNSHIP_", env_file=".env", extra="ignore")

    warehouse_url: str = Field("sqlite:///data/warehouse.db", description="SQLAlchemy URL of the warehouse")
    inbox: str = Field("data/inbox", description="folder or fsspec URL reporters drop their forms in")
    archive: str = Field("data/archive", description="folder or fsspec URL where raw files are kept forever")
    publish_dir: str = Field("data/published", description="folder where published vintages are written")
    timezone: str = Field("Asia/Shanghai", description="the township's timezone (deadlines, default periods)")
    catalog_dir: str = Field(str(PROJECT_ROOT / "catalog"), description="folder of the catalog YAML files")
    dask_address: str | None = Field(None, description="Dask scheduler address; unset = local threads")
    read_workers: int = Field(0, description="parallel readers; 0 = number of CPUs")
    batch_files: int = Field(8000, ge=1, description="files per validation and load transaction (bounds memory)")
    signoff_timeout_seconds: int = Field(7 * 24 * 3600, ge=60, description="how long a publish run waits "
                                         "suspended for its sign-off in the Prefect UI before it fails")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def settings_with(**overrides: str | None) -> Settings:
    """Settings from the environment, with the non-empty overrides given (flow parameters, CLI options)."""
    base = get_settings().model_dump()
    base.update({k: v for k, v in overrides.items() if v})
    return Settings(**base)
