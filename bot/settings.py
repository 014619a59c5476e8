"""The one settings object of Chuishao's web side, read from the environment and an optional `.env`.

Every process that `python -m bot run` starts (Rasa, the action server, the web app) receives the
resolved settings as environment variables (`Settings.to_env()`), so all three agree on ports,
timeouts and secrets. The README lists the variables one by one.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, Literal
from urllib.parse import urlsplit

from pydantic import BaseSettings, Field, SecretStr, root_validator, validator

Environment = Literal["development", "test", "production"]

# Values that are never accepted as a secret in production: empty, placeholders, well-known defaults.
INSECURE_SECRETS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "secret",
        "token",
        "dev",
        "development",
        "test",
        "rasa",
        "password",
        "postgres",
        "admin",
        "root",
        "chuishao",
    }
)
MIN_PRODUCTION_SECRET_LENGTH = 16

# Rasa runs at most this many actions after one user message (processor.MAX_NUMBER_OF_PREDICTIONS).
RASA_MAX_PREDICTIONS = 10


class Settings(BaseSettings):
    """Typed settings; field `foo_bar` is read from the environment variable `FOO_BAR`."""

    chuishao_env: Environment = Field(
        "development", description="development | test | production; production refuses unsafe defaults"
    )
    rasa_port: int = Field(5005, ge=1, le=65535, description="port of the Rasa server")
    rasa_url: str | None = Field(
        None,
        description="base URL the web app and the runner use to reach Rasa "
        "(default http://127.0.0.1:RASA_PORT)",
    )
    action_port: int = Field(5055, ge=1, le=65535, description="port of the action server")
    action_endpoint_url: str | None = Field(
        None, description="URL Rasa posts actions to (default http://127.0.0.1:ACTION_PORT/webhook)"
    )
    internal_host: str = Field("127.0.0.1", description="interface Rasa and the action server listen on")
    bot_host: str = Field("127.0.0.1", description="interface the bot web app listens on")
    bot_port: int = Field(8000, ge=1, le=65535, description="port of the bot web app")
    rasa_api_token: SecretStr = Field(
        SecretStr(""),
        description="token for Rasa's HTTP API; required outside development "
        "(`python -m bot run` generates one for a development run)",
    )
    database_url: str = Field(
        "sqlite:///var/chuishao.db", description="the web app's database (PostgreSQL in production)"
    )
    tracker_store_url: str = Field(
        "sqlite:///var/rasa-tracker.db",
        description="SQLAlchemy URL of Rasa's SQL tracker store (PostgreSQL in production)",
    )
    redis_url: str | None = Field(None, description="Redis, e.g. redis://127.0.0.1:6379/1 (optional)")
    lock_store: Literal["in_memory", "redis"] = Field(
        "in_memory", description="Rasa's conversation lock store; `redis` uses REDIS_URL"
    )
    action_timeout_seconds: float = Field(
        4.0, gt=0, le=300, description="how long Rasa waits for the action server per action"
    )
    reply_deadline_seconds: float = Field(
        4.5, gt=0, le=300, description="the REST channel answers within this time, politely if it must"
    )
    max_message_chars: int = Field(
        2000, ge=1, description="longer user messages are truncated (with a note to the user)"
    )
    model_path: Path = Field(Path("models"), description="trained model file, or a folder (newest model)")
    internal_api_token: SecretStr = Field(
        SecretStr(""),
        description="bearer token the action server and Rasa use for the web app's /api/internal/ "
        "(`python -m bot run` generates one for a development run; required outside development)",
    )
    handoff_url: str | None = Field(
        None, description="base URL of the web app for the action server (default http://127.0.0.1:BOT_PORT)"
    )
    handoff_timeout_seconds: float = Field(
        2.0, gt=0, le=30, description="how long the action server waits for the handoff service"
    )
    outbox_path: Path = Field(
        Path("var/outbox.db"),
        description="SQLite file where the action server keeps ticket requests the handoff service "
        "did not take yet (delivered later, once)",
    )
    workdays_path: Path = Field(
        Path("knowledge/data/workdays.yml"),
        description="holidays and make-up working days for years chinesecalendar does not know",
    )
    session_hours: float = Field(8.0, gt=0, description="staff console sessions expire after this")
    demo_accounts: bool = Field(
        True, description="`python -m bot run` seeds demo staff accounts (never in production)"
    )
    wechat_token: SecretStr = Field(SecretStr(""), description="WeChat Official Account server token")
    wechat_appid: str = Field("", description="WeChat Official Account AppID")
    wechat_app_secret: SecretStr = Field(SecretStr(""), description="WeChat Official Account AppSecret")
    wechat_aes_key: SecretStr = Field(
        SecretStr(""), description="EncodingAESKey (43 characters) for safe mode; empty = plain mode"
    )
    wechat_api_base: str = Field(
        "https://api.weixin.qq.com/cgi-bin/", description="WeChat API base URL (tests use a local fake)"
    )

    widget_server_url: str | None = Field(
        None,
        description="address browsers use to reach Rasa's socket.io channel for the web widget "
        "(default RASA_URL; behind a proxy, its public URL)",
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="log level")

    class Config:
        env_file = ".env"
        env_file_encoding = "utf-8"

    @validator("log_level", "chuishao_env", "lock_store", pre=True)
    def _normalise_case(cls, value: object) -> object:  # noqa: N805
        if isinstance(value, str):
            value = value.strip()
            return value.upper() if value.lower() in {"debug", "info", "warning", "error"} else value.lower()
        return value

    @validator("rasa_url", "action_endpoint_url", "redis_url", "handoff_url", "widget_server_url", pre=True)
    def _empty_is_unset(cls, value: object) -> object:  # noqa: N805
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @validator("rasa_url", "action_endpoint_url", "handoff_url", "wechat_api_base", "widget_server_url")
    def _http_url(cls, value: str | None) -> str | None:  # noqa: N805
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise ValueError(f"not an http(s) URL: {value!r}")
            return value.rstrip("/")
        return value

    @validator("database_url", "tracker_store_url")
    def _sqlalchemy_url(cls, value: str) -> str:  # noqa: N805
        if "://" not in value:
            raise ValueError(f"not a database URL (dialect://...): {value!r}")
        return value

    @root_validator(skip_on_failure=True)
    def _derive_and_check(cls, values: Dict[str, object]) -> Dict[str, object]:  # noqa: N805
        if values.get("rasa_url") is None:
            values["rasa_url"] = f"http://127.0.0.1:{values['rasa_port']}"
        if values.get("action_endpoint_url") is None:
            values["action_endpoint_url"] = f"http://127.0.0.1:{values['action_port']}/webhook"
        if values.get("handoff_url") is None:
            values["handoff_url"] = f"http://127.0.0.1:{values['bot_port']}"
        if values.get("lock_store") == "redis" and not values.get("redis_url"):
            raise ValueError("LOCK_STORE=redis needs REDIS_URL")

        env = values["chuishao_env"]
        token = values["rasa_api_token"].get_secret_value()  # type: ignore[union-attr]
        if env != "development" and not token:
            raise ValueError(f"RASA_API_TOKEN is required when CHUISHAO_ENV={env}")
        internal = values["internal_api_token"].get_secret_value()  # type: ignore[union-attr]
        if env != "development" and not internal:
            raise ValueError(f"INTERNAL_API_TOKEN is required when CHUISHAO_ENV={env}")
        if env == "production":
            problems = []
            if token.lower() in INSECURE_SECRETS or len(token) < MIN_PRODUCTION_SECRET_LENGTH:
                problems.append(
                    f"RASA_API_TOKEN must be a random secret of at least {MIN_PRODUCTION_SECRET_LENGTH} "
                    "characters, not a default"
                )
            if internal.lower() in INSECURE_SECRETS or len(internal) < MIN_PRODUCTION_SECRET_LENGTH:
                problems.append(
                    f"INTERNAL_API_TOKEN must be a random secret of at least {MIN_PRODUCTION_SECRET_LENGTH} "
                    "characters, not a default"
                )
            if values.get("demo_accounts"):
                problems.append("DEMO_ACCOUNTS must be false in production")
            for name in ("database_url", "tracker_store_url"):
                url = str(values[name])
                if url.startswith("sqlite"):
                    problems.append(f"{name.upper()} must point to PostgreSQL in production, not SQLite")
                password = urlsplit(url).password
                if password is not None and password.lower() in INSECURE_SECRETS:
                    problems.append(f"{name.upper()} uses a default password")
            redis_password = urlsplit(str(values.get("redis_url") or "")).password
            if redis_password is not None and redis_password.lower() in INSECURE_SECRETS:
                problems.append("REDIS_URL uses a default password")
            if problems:
                raise ValueError("unsafe production settings: " + "; ".join(problems))
        return values

    # -- derived values ------------------------------------------------------------------------

    @property
    def is_development(self) -> bool:
        return self.chuishao_env == "development"

    @property
    def ticket_lock_lifetime_seconds(self) -> int:
        """Lifetime of Rasa's conversation lock (TICKET_LOCK_LIFETIME).

        One user message can run up to RASA_MAX_PREDICTIONS actions, each allowed
        ACTION_TIMEOUT_SECONDS; the lock must outlive that, or a second message of the same
        conversation would be processed concurrently and the tracker would lose events.
        """
        return max(60, math.ceil(RASA_MAX_PREDICTIONS * self.action_timeout_seconds) + 20)

    @property
    def action_server_url(self) -> str:
        """Base URL of the action server, taken from the endpoint Rasa uses."""
        parts = urlsplit(str(self.action_endpoint_url))
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def tracker_dialect(self) -> str:
        """SQLAlchemy dialect of the tracker store URL, e.g. `sqlite`, `postgresql`."""
        return self.tracker_store_url.split("://", 1)[0].split("+", 1)[0]

    def to_env(self) -> Dict[str, str]:
        """All settings as environment variables, for the child processes of the runner."""
        env: Dict[str, str] = {}
        for name, value in self.dict().items():
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            env[name.upper()] = str(value)
        return env


def get_settings(**overrides: object) -> Settings:
    """Build the settings from the environment (and `.env`); keyword arguments take precedence."""
    return Settings(**overrides)
