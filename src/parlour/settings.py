"""Typed settings from PARLOUR_* variables and an optional TOML file: the only code that reads the environment."""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEMO_SECRET = "parlour-demo-secret-not-for-production"  # noqa: S105 - only accepted when demo=True


class Settings(BaseSettings):
    """Server-wide settings. Per-site behaviour lives in each site's SiteSettings, not here."""

    model_config = SettingsConfigDict(env_prefix="PARLOUR_", extra="forbid", frozen=True)

    database_url: str = Field(
        "sqlite:///parlour.db",
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user@host/db.",
    )
    secret_key: str = Field(
        "",
        description="Secret for signing and for deriving per-reader keys; at least 32 characters. Required.",
    )
    redis_url: str | None = Field(None, description="redis://host:port/db; enables shared caches when set.")
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="The URL readers reach Parlour at; links in e-mails and pages are built from it, never from Host.",
    )
    admin_api_key: str | None = Field(
        None, description="Key for the server-wide admin API (creating sites); disabled when unset."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="CIDRs of reverse proxies whose X-Forwarded-For is believed; empty trusts none.",
    )
    max_request_bytes: int = Field(65536, ge=1024, description="Largest request body accepted, in bytes.")
    thread_cache_entries: int = Field(
        2048, ge=0, description="Rendered thread pages kept in memory per worker; 0 disables."
    )
    thread_version_seconds: float = Field(
        1.0,
        ge=0,
        le=60,
        description="How long a worker trusts its copy of a story's version; bounds how late another worker's "
        "write shows in cached thread reads (0: ask the database on every read).",
    )
    sqlite_busy_timeout_ms: int = Field(10000, ge=100, description="How long SQLite writers wait for the lock.")
    scorer: Literal["lexical", "none"] = Field(
        "lexical",
        description="The moderation scorer run on every new comment: the shipped local model, or none.",
    )
    model_dir: Path | None = Field(
        None,
        description="A folder holding a retrained lexical model (what `parlour model train --out` writes); "
        "unset: the model shipped with Parlour.",
    )
    demo: bool = Field(False, description="Demo mode: allows the built-in insecure secret. Never in production.")
    log_level: str = Field("info", description="Logging level: debug, info, warning, error.")
    log_format: Literal["json", "text"] = Field(
        "json", description="Log lines as JSON objects (one per line, with the request id) or as plain text."
    )
    access_log: bool = Field(
        False, description="One log line per request (method, route, status, duration); nginx usually logs these."
    )
    metrics_token: str | None = Field(
        None,
        min_length=16,
        description="When set, GET /metrics requires Authorization: Bearer TOKEN; unset, anyone who reaches "
        "the port may read it (keep it off the public proxy).",
    )
    smtp_host: str | None = Field(None, description="SMTP server for e-mail notifications; unset: no e-mail at all.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port: 587 with starttls, 465 with tls.")
    smtp_tls: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="starttls: upgrade a plain connection (required, never optional); tls: TLS from the first "
        "byte; none: plain text, only for a relay on the same machine.",
    )
    smtp_username: str | None = Field(None, description="SMTP login, when the server wants one.")
    smtp_password: str | None = Field(None, description="SMTP password, when the server wants one.")
    smtp_ca_file: str | None = Field(
        None, description="PEM file of the CA that signed the SMTP server's certificate, if not a public one."
    )
    smtp_timeout_seconds: float = Field(15.0, gt=0, le=300, description="Per SMTP connection and command.")
    mail_from: str | None = Field(
        None, description="The sender address, e.g. comments@courier.example; required with smtp_host."
    )
    mail_digest_hour: int = Field(
        7, ge=0, le=23, description="Hour (UTC) at which daily digests go out, to readers and to moderators."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then environment, then the TOML file named by PARLOUR_CONFIG.
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file_from_env()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)
        return value

    @field_validator("public_base_url")
    @classmethod
    def _base_url_without_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("public_base_url must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _mail_has_a_sender(self) -> Settings:
        if self.smtp_host and not self.mail_from:
            raise ValueError("PARLOUR_MAIL_FROM must be set with PARLOUR_SMTP_HOST (e.g. comments@courier.example)")
        return self

    @model_validator(mode="after")
    def _secret_is_real(self) -> Settings:
        if self.demo and not self.secret_key:
            object.__setattr__(self, "secret_key", DEMO_SECRET)
        if not self.demo and (len(self.secret_key) < 32 or self.secret_key == DEMO_SECRET):
            raise ValueError(
                "PARLOUR_SECRET_KEY must be set to at least 32 random characters "
                '(python3 -c "import secrets; print(secrets.token_urlsafe(32))")'
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class ConfigurationError(Exception):
    """The configuration file PARLOUR_CONFIG names cannot be used."""


def _config_file_from_env() -> Path | None:
    import os

    name = os.environ.get("PARLOUR_CONFIG")
    return Path(name) if name else None


def load_settings(**overrides: Any) -> Settings:
    """Read settings once at start-up; callers pass the result down.

    A PARLOUR_CONFIG that names no readable TOML file stops here: running on without it would, for one, open a
    stray SQLite file in the working directory instead of the configured database.
    """
    config_file = _config_file_from_env()
    if config_file is not None:
        try:
            tomllib.loads(config_file.read_text(encoding="utf-8"))
        except OSError as exc:
            problem = f"PARLOUR_CONFIG names {config_file}, which cannot be read: {exc.strerror}"
            raise ConfigurationError(problem) from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"{config_file} is not a valid TOML file: {exc}") from exc
    return Settings(**overrides)
