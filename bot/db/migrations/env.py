"""Alembic environment: the URL comes from `bot.db.migrate.alembic_config`, the engine from make_engine."""

from __future__ import annotations

from alembic import context

from bot.db.engine import is_sqlite, make_engine
from bot.db.models import metadata

config = context.config


def run_migrations_online() -> None:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: use bot.db.migrate.upgrade(url)")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=is_sqlite(url),  # SQLite cannot ALTER most things in place
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run bot.db.migrate.upgrade(url)")
run_migrations_online()
