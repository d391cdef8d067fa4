"""The one place that decides the environment: warehouse, inbox, archive, publish folder, timezone."""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Reference data ships inside the package (a wheel installed anywhere finds it), resolved from the package.
PACKAGE_DATA = Path(str(resources.files(__package__).joinpath("data")))
DEFAULT_CATALOG_DIR = PACKAGE_DATA / "catalog"
EXPECTATIONS_DIR = PACKAGE_DATA / "expectations"
DATA_DOCS_VENDOR_DIR = PACKAGE_DATA / "data-docs" / "vendor"  # scripts, styles, fonts Data Docs load (no CDN)


class Settings(BaseSettings):
    """Read from TOWNSHIP_* environment variables (or a `.env` file); defaults work on a fresh clone."""

    model_config = SettingsConfigDict(env_prefix="TOWNSHIP_", env_file=".env", extra="ignore")

    warehouse_url: str = Field("sqlite:///data/warehouse.db", description="SQLAlchemy URL of the warehouse")
    inbox: str = Field("data/inbox", description="folder or fsspec URL reporters drop their forms in")
    archive: str = Field("data/archive", description="folder or fsspec URL where raw files are kept forever")
    publish_dir: str = Field("data/published", description="folder where published vintages are written")
    timezone: str = Field("Asia/Shanghai", description="the township's timezone (deadlines, default periods)")
    catalog_dir: str = Field(str(DEFAULT_CATALOG_DIR), description="folder of the catalog YAML files "
                             "(default: the one shipped in the package)")
    cache_dir: str = Field(str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "township-indicators"),
                           description="where the parsed catalog is cached, keyed by its content hash "
                           "(safe to delete)")
    dask_address: str | None = Field(None, description="Dask scheduler address; unset = local threads")
    read_workers: int = Field(0, description="parallel readers; 0 = number of CPUs")
    batch_files: int = Field(4000, ge=1, description="files per validation and load transaction (bounds memory: "
                             "~53 MB a 1,000 files at the peak)")
    # Limits checked before a file is parsed (a hostile or broken file must not exhaust memory): E_FILE_TOO_LARGE.
    max_file_mb: float = Field(20, gt=0, description="largest file read from the inbox, in MB (from its size on disk)")
    max_uncompressed_mb: float = Field(200, gt=0, description="largest total uncompressed size of an .xlsx, in MB")
    max_compression_ratio: float = Field(200, gt=1, description="largest uncompressed/compressed ratio of an "
                                         ".xlsx part over 1 MB (a zip bomb's is in the thousands)")
    max_rows: int = Field(5000, ge=1, description="most rows in a form's sheet or CSV")
    max_columns: int = Field(100, ge=1, description="most columns in a form's sheet or CSV")

    publish_base_url: str | None = Field(
        None, description="HTTP URL the publish folder is served at (links in Prefect artifacts); unset = file://")
    outbox_retry_seconds: int = Field(300, ge=0, description="wait before re-sending a failed message; doubles "
                                      "with each failure")
    outbox_retry_max_seconds: int = Field(6 * 3600, ge=0, description="longest wait between two sending attempts")
    remind_days_before: int = Field(2, ge=0, description="days before the deadline that missing reporters are "
                                    "reminded")
    remind_days_after: int = Field(1, ge=0, description="days after the deadline that missing reporters are "
                                   "reminded again")

    signoff_timeout_seconds: int = Field(7 * 24 * 3600, ge=60, description="how long a publish run waits "
                                         "suspended for its sign-off in the Prefect UI before it fails")

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 2**20)

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


# Prefect's environment for every `township` command, where the environment does not say otherwise:
# no analytics (the server's telemetry heartbeat also logged a 'database is locked' traceback on a busy SQLite),
# and patience for the temporary server to start on a loaded two-core machine (Prefect's default is 20 s).
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def apply_prefect_defaults(environ: MutableMapping[str, str] = os.environ) -> None:
    """Set PREFECT_DEFAULTS where unset. Call before Prefect is imported: it reads its settings once."""
    for name, value in PREFECT_DEFAULTS.items():
        environ.setdefault(name, value)
