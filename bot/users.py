"""`python -m bot users add|list`: staff accounts of the console.

The password is read from stdin (one line; a terminal gets a prompt without echo), never from the
command line, where it would land in the shell history and the process list.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import IO, List

from bot.settings import Settings

ROLES = ("staff", "lead", "supervisor")
MIN_PASSWORD_LENGTH = 8
# Shown on the 三亮 pages when no staff number was given: honest, not invented.
NO_STAFF_NUMBER = "未登记"


def add_arguments(commands: argparse._SubParsersAction) -> None:
    """Register `users add` and `users list` under the `python -m bot` parser."""
    users = commands.add_parser("users", help="manage staff accounts of the console")
    actions = users.add_subparsers(dest="users_command", required=True)
    add = actions.add_parser("add", help="create an account; the password is read from stdin")
    add.add_argument("username")
    add.add_argument(
        "--department", required=True, help="department code from knowledge/data/departments.yml"
    )
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--name", help="display name shown to enterprises (三亮); default: the username")
    add.add_argument("--number", help="staff number shown to enterprises (三亮 工号); default: 未登记")
    listing = actions.add_parser("list", help="list accounts")
    listing.add_argument("--department", help="only this department")
    actions.add_parser(
        "demo", help="create the demo accounts (development only) with new passwords, and print them"
    )


def read_password(stdin: IO[str]) -> str:
    if stdin.isatty():
        first = getpass.getpass("密码：")
        if first != getpass.getpass("再次输入密码："):
            raise ValueError("两次输入的密码不一致。")
        return first
    return stdin.readline().rstrip("\r\n")


def run(
    args: argparse.Namespace, settings: Settings, *, stdin: IO[str] | None = None, out: IO[str] | None = None
) -> int:
    from bot.deps import open_services

    stdin = stdin if stdin is not None else sys.stdin
    out = out if out is not None else sys.stdout
    services = open_services(settings, migrate=True)
    try:
        if args.users_command == "add":
            return _add(args, services, stdin, out)
        if args.users_command == "demo":
            return _demo(settings, services, out)
        return _list(args, services, out)
    finally:
        services.close()


def _add(args: argparse.Namespace, services, stdin: IO[str], out: IO[str]) -> int:  # noqa: ANN001
    from bot.handoff.service import HandoffError

    if args.department not in services.knowledge.departments:
        print(f"未知的部门代码：{args.department}（见 knowledge/data/departments.yml）", file=sys.stderr)
        return 2
    try:
        password = read_password(stdin)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    if len(password) < MIN_PASSWORD_LENGTH:
        print(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符（从标准输入读取一行）。", file=sys.stderr)
        return 2
    try:
        user = services.tickets.create_user(
            args.username,
            password,
            args.department,
            args.role,
            args.name or args.username,
            args.number or NO_STAFF_NUMBER,
        )
    except HandoffError as error:
        print(error.message, file=sys.stderr)
        return 1
    print(
        f"已创建账号 {user.username}（{user.display_name}，{args.department}，{args.role}，id {user.id}）",
        file=out,
    )
    return 0


def _list(args: argparse.Namespace, services, out: IO[str]) -> int:  # noqa: ANN001
    users: List = services.tickets.list_users(args.department)
    if not users:
        print("没有账号。", file=out)
        return 0
    print("id\t用户名\t姓名\t工号\t部门\t岗位\t状态", file=out)
    for user in users:
        state = "启用" if user.active else "停用"
        print(
            f"{user.id}\t{user.username}\t{user.display_name}\t{user.staff_number or '-'}\t"
            f"{user.department}\t{user.role}\t{state}",
            file=out,
        )
    return 0


def _demo(settings: Settings, services, out: IO[str]) -> int:  # noqa: ANN001
    from bot.seed import describe, seed_demo_accounts

    if not settings.is_development or not settings.demo_accounts:
        print(
            "演示账号只在开发环境（CHUISHAO_ENV=development 且 DEMO_ACCOUNTS=true）中创建。", file=sys.stderr
        )
        return 2
    accounts = seed_demo_accounts(services.tickets, services.session_factory)
    print("演示账号（用户名 密码 岗位 部门）：", file=out)
    for line in describe(accounts, services.knowledge):
        print(line, file=out)
    return 0
