"""Settings from environment variables (prefix CONTRACT_SYNC_) and a .env file."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"


class ErpConnector(StrEnum):
    vista = "vista"  # Viewpoint Vista tables through SQLAlchemy
    files = "files"  # a folder of CSV / XLSX exports with a mapping.yaml


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONTRACT_SYNC_", env_file=".env", extra="ignore")

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Folder for the embedded databases.")
    erp_connector: ErpConnector = Field(ErpConnector.vista, description="Which ERP connector.")
    erp_url: str | None = Field(None, description="SQLAlchemy URL of the ERP database.")
    erp_files_dir: Path | None = Field(None, description="Export folder for the files connector.")
    store_url: str | None = Field(None, description="SQLAlchemy URL of the project store.")
    company: int = Field(1, description="ERP company number (Vista JCCo) to sync.")
    service_user: str = Field("sync-service", description="User that scheduled runs act as.")
    sync_cron: str = Field("0 6-18 * * 1-5", description="When scheduled syncs run (cron).")
    sync_timezone: str = Field("America/Chicago", description="Time zone of the schedules.")
    report_cron: str = Field("0 7 * * 1", description="When the weekly audit report runs.")
    expectations_dir: Path = Field(PROJECT_ROOT / "expectations")
    reports_dir: Path | None = Field(None, description="Where run reports are written.")
    data_docs: bool = Field(True, description="Write each run's validation report (Data Docs).")

    @property
    def erp_database_url(self) -> str:
        return self.erp_url or f"sqlite:///{self.data_dir / 'erp_vista.sqlite'}"

    @property
    def erp_files_path(self) -> Path:
        return self.erp_files_dir or self.data_dir / "erp_export"

    @property
    def store_database_url(self) -> str:
        return self.store_url or f"sqlite:///{self.data_dir / 'store.sqlite'}"

    @property
    def reports_path(self) -> Path:
        return self.reports_dir or self.data_dir / "reports"


@lru_cache
def get_settings() -> Settings:
    return Settings()
