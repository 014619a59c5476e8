"""Command line: `python -m bot serve | run | env | users`."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import List

from pydantic import ValidationError


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Chuishao's web side")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the bot web app (BOT_HOST:BOT_PORT)")
    commands.add_parser("run", help="run and supervise Rasa, the action server and the web app")
    commands.add_parser(
        "env", help="print `export` lines for the variables endpoints.yml needs (eval in a shell)"
    )
    from bot import users

    users.add_arguments(commands)
    args = parser.parse_args(argv)

    from bot.settings import get_settings

    try:
        settings = get_settings()
    except ValidationError as error:
        print(f"Chuishao settings are invalid:\n{error}", file=sys.stderr)
        return 2

    if args.command == "serve":
        from bot.app import serve

        serve(settings)
        return 0
    if args.command == "users":
        return users.run(args, settings)
    if args.command == "run":
        from bot.runner import Runner

        return Runner(settings).run()
    from bot.runner import rasa_env

    for name, value in rasa_env(settings).items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
