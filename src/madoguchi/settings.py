"""One typed settings object; its defaults run the demo."""

from __future__ import annotations

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
    max_request_bytes: int = Field(default=1_000_000, gt=0)
    feed_retention_hours: int = Field(default=48, gt=0)
    router_enabled: bool = True
    #: Addresses of reverse proxies whose X-Forwarded-For is trusted (comma-separated), e.g. "127.0.0.1".
    #: Unset: the peer address is the client, so per-address login limits are not shared by everyone
    #: behind a proxy only when this names it.
    forwarded_allow_ips: str | None = None
    log_level: str = "INFO"

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
