"""Every knob of the service in one place (environment variables ``CLEANER_*``;
``cleaner serve`` flags override them)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DB_PATH = Path("cleaner-data") / "cleaner.sqlite3"


class Settings(BaseSettings):
    """Service settings.

    >>> Settings(api_keys="a, b").api_keys
    ['a', 'b']
    """

    model_config = SettingsConfigDict(env_prefix="CLEANER_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    db_path: Path = DEFAULT_DB_PATH
    # Bearer tokens; empty means no authentication (then only loopback binds
    # are allowed, unless ``insecure``).
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    insecure: bool = False
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1)
    max_files: int = Field(1000, ge=1)  # uploaded files plus archive members per request
    max_documents: int = Field(10_000, ge=1)  # JSON documents per request
    max_page_size: int = Field(500, ge=1)
    clean_threads: int = Field(4, ge=1)  # cleans/ingests running at once (off the event loop)
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "FULL"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    warmup: bool = True  # run one tiny clean at start-up so the first request is not slow

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, v: object) -> object:
        if isinstance(v, str):
            return [k.strip() for k in v.split(",") if k.strip()]
        return v

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.lower() if isinstance(v, str) else v

    def is_loopback(self) -> bool:
        """Is ``host`` a loopback address (or ``localhost``)?

        >>> Settings(host="0.0.0.0").is_loopback(), Settings(host="::1").is_loopback()
        (False, True)
        """
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host.strip("[]")).is_loopback
        except ValueError:
            return False

    def bind_refusal(self) -> str | None:
        """Why the server must not start with these settings, or None."""
        if not self.api_keys and not self.is_loopback() and not self.insecure:
            return (
                f"refusing to listen on {self.host} without API keys: set CLEANER_API_KEYS "
                "(comma-separated bearer tokens), bind a loopback address, or pass --insecure"
            )
        return None
