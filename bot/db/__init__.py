"""The handoff service's database: SQLAlchemy 1.4 models, engine helpers and Alembic migrations."""
