"""Settings from environment variables (prefix CONTRACT_SYNC_) and a .env file."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contract_sync.errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# In the source checkout (make install) the data stays in the project folder; an installed
# copy has no project folder and uses data/ of the folder it runs from.
IN_CHECKOUT = (PROJECT_ROOT / "pyproject.toml").is_file()
DEFAULT_DATA_DIR = PROJECT_ROOT / "data" if IN_CHECKOUT else Path("data")


def packaged_expectations_dir() -> Path:
    """The Great Expectations suites that ship with the package.

    The wheel holds the top-level expectations/ folder as contract_sync/expectations
    (pyproject: package-dir). An editable install cannot import that mapped folder
    (setuptools' editable finder does not resolve a namespace subpackage kept outside its
    parent's folder), so in a source checkout the folder itself is used.
    """
    packaged = resources.files("contract_sync") / "expectations"
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return PROJECT_ROOT / "expectations"


VALIDATION_CACHE_FILE = "validation-cache.sqlite"  # in data_dir


class ErpConnector(StrEnum):
    vista = "vista"  # Viewpoint Vista tables through SQLAlchemy
    files = "files"  # a folder of CSV / XLSX exports with a mapping.yaml


class StoreKind(StrEnum):
    """Where main contracts are written: the SQL store of store_url, or Procore (the
    database of store_url then keeps the ledger: audit, baselines, run records, and a
    mirror of what runs read from Procore)."""

    sql = "sql"
    procore = "procore"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONTRACT_SYNC_", env_file=".env", extra="ignore")

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Folder for the embedded databases.")
    erp_connector: ErpConnector = Field(ErpConnector.vista, description="Which ERP connector.")
    erp_url: str | None = Field(None, description="SQLAlchemy URL of the ERP database.")
    erp_files_dir: Path | None = Field(None, description="Export folder for the files connector.")
    store_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the project store (of the ledger beside Procore when "
        "the store is Procore).",
    )
    store: StoreKind = Field(StoreKind.sql, description="The project store: sql or procore.")
    company: int = Field(1, description="ERP company number (Vista JCCo) to sync.")
    service_user: str = Field("sync-service", description="User that scheduled runs act as.")
    sync_cron: str = Field("0 6-18 * * 1-5", description="When scheduled syncs run (cron).")
    sync_timezone: str = Field("America/Chicago", description="Time zone of the schedules.")
    report_cron: str = Field("0 7 * * 1", description="When the weekly audit report runs.")
    company_wait_seconds: int = Field(
        1800,
        ge=1,
        description="How long a Prefect run waits while another run acts on its company "
        "(the company's concurrency limit) before it gives up, failed, without starting; and "
        "how long the scheduled sync waits for a worker to start each company's run.",
    )
    company_lease_seconds: int = Field(
        60,
        ge=60,
        le=86400,
        description="A run's hold on its company lapses this long after its last renewal "
        "(its process renews it every three quarters of it): a worker killed, the next run "
        "of the company may start then.",
    )
    expectations_dir: Path = Field(
        default_factory=packaged_expectations_dir,
        description="Folder of the validation suites; default: the ones shipped in the package.",
    )
    reports_dir: Path | None = Field(None, description="Where run reports are written.")
    reports_url: str | None = Field(
        None, description="Where the reports folder is served over http (make serve sets it)."
    )
    data_docs: bool = Field(
        True, description="Write each run's validation report (one self-contained page)."
    )
    validation_cache: bool = Field(
        True, description="Reuse the verdict on a contract validated before with the same content."
    )
    validation_helper: bool = Field(
        True,
        description="A run of 1,000 contracts or more, or of named contracts at the command "
        "line, loads Great Expectations in a helper process while it reads the ERP (about a "
        "second of work, 170 MB until its scan ends); changes beyond a group are validated by "
        "the helper and the run together, on two cores.",
    )
    group_items: int = Field(
        100_000,
        ge=1,
        description="Items a run holds, validates, compares and writes at a time (it reads "
        "them 20,000 at most at a time): its memory follows this, not the company's size.",
    )

    signed_manual_runs: bool = Field(
        False,
        description="Manual deployment runs act only for a request signed in on the web "
        "pages: a requested_by typed in the Prefect UI is refused.",
    )
    web_host: str = Field("127.0.0.1", description="Address the web pages listen on.")
    web_port: int = Field(4202, description="Port of the web pages (make serve: Prefect's + 2).")
    web_session_hours: float = Field(8, gt=0, description="How long a sign-in lasts.")
    web_secure_cookies: bool = Field(
        True,
        description="Send the session cookie only over https (and to http://127.0.0.1 or "
        "localhost, which browsers treat as secure); false only behind a proxy that ends TLS "
        "on another host.",
    )
    web_user_header: str | None = Field(
        None,
        description="Single sign-on: the header in which a reverse proxy names the user it "
        "authenticated (e.g. X-Forwarded-User), trusted only from web_trusted_proxies.",
    )
    web_trusted_proxies: str = Field(
        "127.0.0.1,::1", description="Comma-separated addresses whose user header is trusted."
    )

    web_url: str | None = Field(
        None,
        description="Where people open the web pages (the links of notifications); default: "
        "http://web_host:web_port.",
    )
    notify_email: str | None = Field(
        None,
        description="The SMTP server the daily digest is mailed through, as an apprise URL "
        "(mailtos://user:password@smtp.example.com?from=sync@example.com); each person's "
        "address is added as to=.",
    )
    notify_webhooks: str = Field(
        "",
        description="Comma-separated apprise URLs that get the whole digest: Slack "
        "(slack://...), Teams (workflows://...), any JSON receiver (json://host/path).",
    )
    notify_operators: str = Field(
        "", description="Comma-separated addresses told of runs that failed or were abandoned."
    )
    digest_cron: str = Field("0 7 * * *", description="When the daily digest is sent (cron).")

    procore_base_url: str = Field(
        "https://api.procore.com", description="Procore's REST API (the store, when Procore)."
    )
    procore_login_url: str | None = Field(
        "https://login.procore.com",
        description="Where Procore's OAuth token is asked for (Procore's OAuth host; a "
        "sandbox or a simulator: its own); empty: the API's base URL.",
    )
    procore_client_id: str | None = Field(
        None, description="Client id of the Procore service account (client credentials)."
    )
    procore_client_secret: SecretStr | None = Field(
        None, description="Client secret of the Procore service account."
    )
    procore_company_id: int | None = Field(
        None, description="Procore company id, sent as Procore-Company-Id on every call."
    )
    procore_companies: dict[int, int] = Field(
        default_factory=dict,
        description='Procore company id per ERP company, as JSON ({"1": 8001, "2": 8002}), '
        "where they differ from procore_company_id.",
    )

    def procore_company_of(self, erp_company: int) -> int:
        """The Procore company an ERP company's contracts go to."""
        found = self.procore_companies.get(erp_company, self.procore_company_id)
        if found is None:
            raise SettingsError(
                f"no Procore company for ERP company {erp_company}: set "
                "CONTRACT_SYNC_PROCORE_COMPANY_ID (or CONTRACT_SYNC_PROCORE_COMPANIES)"
            )
        return found

    @field_validator("expectations_dir", mode="before")
    @classmethod
    def _packaged_when_blank(cls, value: object) -> object:
        return packaged_expectations_dir() if value in (None, "") else value

    @property
    def web_base_url(self) -> str:
        return (self.web_url or f"http://{self.web_host}:{self.web_port}").rstrip("/")

    @property
    def notify_webhook_list(self) -> list[str]:
        return [u.strip() for u in self.notify_webhooks.split(",") if u.strip()]

    @property
    def notify_operator_list(self) -> list[str]:
        return [a.strip() for a in self.notify_operators.split(",") if a.strip()]

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

    def report_link(self, page: Path | None) -> str | None:
        """Where a person opens a report page: over http when the reports are served
        (`make serve` sets CONTRACT_SYNC_REPORTS_URL), else its file."""
        if page is None:
            return None
        if self.reports_url and page.is_relative_to(self.reports_path):
            return (
                f"{self.reports_url.rstrip('/')}/{page.relative_to(self.reports_path).as_posix()}"
            )
        return page.as_uri()

    def report_url(self, page: Path | None) -> str | None:
        """A report file's http address when the reports folder is served
        (CONTRACT_SYNC_REPORTS_URL), else None: a browser opens no file:// link from a web
        page such as Prefect's UI, so a person is told where the file is instead."""
        link = self.report_link(page)
        return link if link is not None and not link.startswith("file:") else None

    @property
    def validation_cache_path(self) -> Path | None:
        return self.data_dir / VALIDATION_CACHE_FILE if self.validation_cache else None


@lru_cache
def get_settings() -> Settings:
    """The settings; a bad value is a one-line error naming the variable and what it takes."""
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"CONTRACT_SYNC_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
            for e in error.errors()
        )
        raise SettingsError(f"bad setting: {problems}") from None


class SettingsError(UserError, ValueError):
    """A setting (environment variable or .env line) with a value it cannot take."""
