"""Demo staff accounts for a development run (`make run` with DEMO_ACCOUNTS, never in production).

Each seeding gives every demo account a fresh random password, printed by the runner with the
usernames: nothing guessable ever sits in a database, even a laptop's. The departments are the ones
the demo questions reach: 市场监管 (company registration), 省药监局 (Class II medical device
registration), 市行政审批服务局 (Class II medical device operating records) and the 吹哨办.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import List

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.db.engine import session_scope
from bot.db.models import User
from bot.handoff.service import TicketService, hash_password


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    staff_number: str
    department: str
    role: str
    password: str = ""


DEMO_ACCOUNTS = (
    DemoAccount("scjg-staff", "王晓明", "SCJG-0101", "hz-scjg", "staff"),
    DemoAccount("scjg-lead", "李建国", "SCJG-0001", "hz-scjg", "lead"),
    DemoAccount("yjj-staff", "赵敏", "SDYJ-0201", "sd-yjj", "staff"),
    DemoAccount("yjj-lead", "孙立新", "SDYJ-0002", "sd-yjj", "lead"),
    DemoAccount("xzsp-staff", "周婷", "XZSP-0301", "hz-xzsp", "staff"),
    DemoAccount("xzsp-lead", "吴刚", "XZSP-0003", "hz-xzsp", "lead"),
    DemoAccount("chuishao-staff", "陈静", "CSB-0401", "hz-chuishao", "staff"),
    DemoAccount("supervisor", "刘督办", "CSB-0001", "hz-chuishao", "supervisor"),
)


def new_password() -> str:
    return secrets.token_urlsafe(9)  # 12 characters


def seed_demo_accounts(service: TicketService, factory: sessionmaker) -> List[DemoAccount]:
    """Create the demo accounts, or give existing ones a new password; returns them with passwords."""
    seeded = []
    for account in DEMO_ACCOUNTS:
        password = new_password()
        with session_scope(factory) as session:
            user = session.execute(select(User).where(User.username == account.username)).scalar_one_or_none()
            if user is not None:
                user.password_hash = hash_password(password)
                user.active = True
        if user is None:
            service.create_user(
                account.username,
                password,
                account.department,
                account.role,
                account.display_name,
                account.staff_number,
            )
        seeded.append(DemoAccount(**{**account.__dict__, "password": password}))
    return seeded


def describe(accounts: List[DemoAccount], knowledge: object) -> List[str]:
    """Lines for the runner's "Chuishao is up" block."""
    departments = getattr(knowledge, "departments", {})
    lines = []
    for account in accounts:
        department = departments.get(account.department)
        name = department.short_name if department is not None else account.department
        lines.append(
            f"    {account.username:<15} {account.password}  {account.role:<10} {name} "
            f"({account.display_name}, {account.staff_number})"
        )
    return lines
