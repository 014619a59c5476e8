"""HTTP routes of the bot web app, one module per resource, each with a `blueprint()` factory."""

from sanic import Blueprint

from bot.routes import health, home


def blueprints() -> list[Blueprint]:
    return [home.blueprint(), health.blueprint()]
