"""HTTP routes of the bot web app, one module per resource, each with a `blueprint()` factory."""

from sanic import Blueprint

from bot.routes import (
    api_auth,
    api_conversations,
    api_internal,
    api_tickets,
    console,
    health,
    home,
    portal,
    public,
    wechat,
)


def blueprints() -> list[Blueprint]:
    return [
        home.blueprint(),
        health.blueprint(),
        wechat.blueprint(),
        portal.blueprint(),
        api_auth.blueprint(),
        api_tickets.blueprint(),
        api_conversations.blueprint(),
        api_internal.blueprint(),
        console.blueprint(),
        public.blueprint(),
    ]
