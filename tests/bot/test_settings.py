"""Settings: defaults, environment overrides, derived values, and what production refuses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.settings import Settings, get_settings

STRONG_TOKEN = "k3J9-q0vX_7mZpL2wR8tY4nB"
PG = "postgresql://chuishao:Xq7-p2Lm9vRt@db.internal:5432/chuishao"


def test_development_defaults_need_no_secret():
    settings = Settings(_env_file=None)

    assert settings.chuishao_env == "development"
    assert settings.rasa_url == "http://127.0.0.1:5005"
    assert settings.action_endpoint_url == "http://127.0.0.1:5055/webhook"
    assert settings.action_server_url == "http://127.0.0.1:5055"
    assert (settings.bot_host, settings.bot_port) == ("127.0.0.1", 8000)
    assert settings.database_url == "sqlite:///var/chuishao.db"
    assert settings.tracker_store_url == "sqlite:///var/rasa-tracker.db"
    assert settings.lock_store == "in_memory"
    assert settings.action_timeout_seconds == 4
    assert settings.reply_deadline_seconds == 4.5
    assert str(settings.model_path) == "models"
    assert settings.log_level == "INFO"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RASA_PORT", "6005")
    monkeypatch.setenv("ACTION_PORT", "6055")
    monkeypatch.setenv("BOT_PORT", "6080")
    monkeypatch.setenv("ACTION_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("REPLY_DEADLINE_SECONDS", "3")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("MODEL_PATH", "/srv/models/chuishao.tar.gz")

    settings = get_settings(_env_file=None)

    assert settings.rasa_url == "http://127.0.0.1:6005"  # follows RASA_PORT unless RASA_URL is set
    assert settings.action_endpoint_url == "http://127.0.0.1:6055/webhook"
    assert settings.bot_port == 6080
    assert settings.action_timeout_seconds == 2.5
    assert settings.reply_deadline_seconds == 3
    assert settings.log_level == "DEBUG"
    assert str(settings.model_path) == "/srv/models/chuishao.tar.gz"


def test_explicit_urls_win_over_ports(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RASA_URL", "http://rasa.internal:5005/")
    monkeypatch.setenv("ACTION_ENDPOINT_URL", "http://actions.internal:9000/webhook")

    settings = get_settings(_env_file=None)

    assert settings.rasa_url == "http://rasa.internal:5005"
    assert settings.action_server_url == "http://actions.internal:9000"


def test_dotenv_file_is_read_and_environment_wins(tmp_path, monkeypatch: pytest.MonkeyPatch):
    env_file = tmp_path / ".env"
    env_file.write_text("BOT_PORT=8100\nRASA_PORT=5100\n", encoding="utf-8")
    monkeypatch.setenv("BOT_PORT", "8200")

    settings = Settings(_env_file=env_file)

    assert settings.rasa_port == 5100
    assert settings.bot_port == 8200


@pytest.mark.parametrize(
    "name, value",
    [
        ("RASA_PORT", "abc"),
        ("RASA_PORT", "70000"),
        ("ACTION_TIMEOUT_SECONDS", "0"),
        ("REPLY_DEADLINE_SECONDS", "-1"),
        ("CHUISHAO_ENV", "staging"),
        ("LOG_LEVEL", "LOUD"),
        ("RASA_URL", "ftp://rasa"),
        ("DATABASE_URL", "var/chuishao.db"),
    ],
)
def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        get_settings(_env_file=None)


def test_redis_lock_store_needs_redis_url():
    with pytest.raises(ValidationError, match="REDIS_URL"):
        Settings(_env_file=None, lock_store="redis")
    redis = Settings(_env_file=None, lock_store="redis", redis_url="redis://127.0.0.1:6379/1")
    assert redis.lock_store == "redis"


def test_token_required_outside_development():
    with pytest.raises(ValidationError, match="RASA_API_TOKEN is required"):
        Settings(_env_file=None, chuishao_env="test", internal_api_token="i")
    with pytest.raises(ValidationError, match="INTERNAL_API_TOKEN is required"):
        Settings(_env_file=None, chuishao_env="test", rasa_api_token="t")
    settings = Settings(_env_file=None, chuishao_env="test", rasa_api_token="t", internal_api_token="i")
    assert settings.chuishao_env == "test"


@pytest.mark.parametrize("token", ["", "changeme", "secret", "rasa", "short-token"])
def test_production_refuses_default_or_weak_token(token: str):
    with pytest.raises(ValidationError, match="RASA_API_TOKEN"):
        Settings(
            _env_file=None,
            chuishao_env="production",
            rasa_api_token=token,
            internal_api_token=STRONG_TOKEN + "i",
            demo_accounts=False,
            database_url=PG,
            tracker_store_url=PG,
        )


def test_production_refuses_sqlite_and_default_passwords():
    with pytest.raises(ValidationError) as refused:
        Settings(
            _env_file=None,
            chuishao_env="production",
            rasa_api_token=STRONG_TOKEN,
            internal_api_token=STRONG_TOKEN + "i",
            demo_accounts=False,
        )
    assert "DATABASE_URL must point to PostgreSQL" in str(refused.value)
    assert "TRACKER_STORE_URL must point to PostgreSQL" in str(refused.value)

    with pytest.raises(ValidationError, match="default password"):
        Settings(
            _env_file=None,
            chuishao_env="production",
            rasa_api_token=STRONG_TOKEN,
            internal_api_token=STRONG_TOKEN + "i",
            demo_accounts=False,
            database_url="postgresql://postgres:postgres@db/chuishao",
            tracker_store_url=PG,
        )


def test_production_accepts_safe_settings():
    settings = Settings(
        _env_file=None,
        chuishao_env="production",
        rasa_api_token=STRONG_TOKEN,
        internal_api_token=STRONG_TOKEN + "i",
        demo_accounts=False,
        database_url=PG,
        tracker_store_url=PG,
    )
    assert settings.tracker_dialect == "postgresql"
    assert STRONG_TOKEN not in repr(settings)  # secrets never appear in logs of the settings


@pytest.mark.parametrize("timeout, lifetime", [(4, 60), (0.5, 60), (10, 120)])
def test_lock_lifetime_outlives_every_action_of_a_turn(timeout: float, lifetime: int):
    settings = Settings(_env_file=None, action_timeout_seconds=timeout)
    assert settings.ticket_lock_lifetime_seconds == lifetime
    assert settings.ticket_lock_lifetime_seconds > 10 * timeout


def test_to_env_round_trips(monkeypatch: pytest.MonkeyPatch):
    original = Settings(
        _env_file=None,
        chuishao_env="test",
        rasa_api_token="tok",
        internal_api_token="internal",
        rasa_port=5999,
        redis_url="redis://127.0.0.1:6379/2",
        action_timeout_seconds=1.5,
    )
    for name, value in original.to_env().items():
        monkeypatch.setenv(name, value)

    assert get_settings(_env_file=None) == original
