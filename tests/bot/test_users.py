"""`python -m bot users add|list|demo`: accounts from the command line, the password from stdin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def bot_cli(
    database_url: str, *args: str, stdin: str = "", env: dict | None = None
) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DATABASE_URL": database_url,
        "CHUISHAO_ENV": "development",
        "PYTHONWARNINGS": "ignore",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "users", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


@pytest.fixture
def authenticate(service):
    return service.authenticate


def test_add_reads_the_password_from_stdin_and_the_account_can_log_in(database_url, authenticate):
    added = bot_cli(
        database_url,
        "add",
        "wangxm",
        "--department",
        "hz-scjg",
        "--role",
        "lead",
        "--name",
        "王晓明",
        "--number",
        "SCJG-0001",
        stdin="s3cret-pass-word\n",
    )

    assert added.returncode == 0, added.stderr
    assert "已创建账号 wangxm" in added.stdout
    assert "s3cret-pass-word" not in added.stdout + added.stderr
    user = authenticate("wangxm", "s3cret-pass-word")
    assert (user.display_name, user.staff_number, user.department, user.role) == (
        "王晓明",
        "SCJG-0001",
        "hz-scjg",
        "lead",
    )
    assert authenticate("wangxm", "wrong-password") is None

    listed = bot_cli(database_url, "list")
    assert listed.returncode == 0
    assert re.search(r"wangxm\t王晓明\tSCJG-0001\thz-scjg\tlead\t启用", listed.stdout)


def test_add_refuses_bad_input_with_a_chinese_reason(database_url):
    short = bot_cli(
        database_url, "add", "shorty", "--department", "hz-scjg", "--role", "staff", stdin="abc\n"
    )
    assert short.returncode == 2 and "密码至少需要 8 个字符" in short.stderr
    unknown = bot_cli(
        database_url, "add", "nobody", "--department", "nowhere", "--role", "staff", stdin="x" * 10
    )
    assert unknown.returncode == 2 and "未知的部门代码：nowhere" in unknown.stderr
    bot_cli(
        database_url, "add", "twice", "--department", "hz-scjg", "--role", "staff", stdin="long-enough-1\n"
    )
    again = bot_cli(
        database_url, "add", "twice", "--department", "hz-scjg", "--role", "staff", stdin="long-enough-2\n"
    )
    assert again.returncode == 1 and "用户名已存在" in again.stderr
    role = bot_cli(
        database_url, "add", "badrole", "--department", "hz-scjg", "--role", "admin", stdin="x" * 10
    )
    assert role.returncode == 2


def test_demo_prints_accounts_whose_passwords_work(database_url, authenticate):
    demo = bot_cli(database_url, "demo")

    assert demo.returncode == 0, demo.stderr
    lines = [line.split() for line in demo.stdout.splitlines() if line.startswith("    ")]
    accounts = {fields[0]: fields[1] for fields in lines}
    assert {"scjg-staff", "scjg-lead", "yjj-staff", "yjj-lead", "chuishao-staff", "supervisor"} <= set(
        accounts
    )
    assert authenticate("yjj-lead", accounts["yjj-lead"]).department == "sd-yjj"
    assert authenticate("supervisor", accounts["supervisor"]).role == "supervisor"
    # Seeding again gives new passwords; the old ones stop working.
    again = bot_cli(database_url, "demo")
    new = {line.split()[0]: line.split()[1] for line in again.stdout.splitlines() if line.startswith("    ")}
    assert new["scjg-staff"] != accounts["scjg-staff"]
    assert authenticate("scjg-staff", accounts["scjg-staff"]) is None


def test_demo_is_refused_outside_development(database_url):
    refused = bot_cli(
        database_url,
        "demo",
        env={"CHUISHAO_ENV": "test", "RASA_API_TOKEN": "t" * 20, "INTERNAL_API_TOKEN": "i" * 20},
    )
    assert refused.returncode == 2
    assert "开发环境" in refused.stderr
