"""Demo accounts: seeded by the runner in development, printed with working passwords, never elsewhere."""

from __future__ import annotations

import io

from bot.deps import open_services
from bot.runner import Runner
from bot.seed import DEMO_ACCOUNTS


def test_runner_seeds_and_announces_demo_accounts_in_development(make_settings, tmp_path):
    settings = make_settings(chuishao_env="development", database_url=f"sqlite:///{tmp_path / 'demo.db'}")
    out = io.StringIO()
    runner = Runner(settings, services=[], out=out, root=tmp_path, check_model=False)

    assert runner.seed_demo_accounts() is None
    runner.announce()

    text = out.getvalue()
    assert "demo accounts" in text and "/console" in text
    shown = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[1] in {a.username for a in DEMO_ACCOUNTS}:
            shown[fields[1]] = fields[2]
    assert set(shown) == {a.username for a in DEMO_ACCOUNTS}
    services = open_services(settings)
    try:
        user = services.tickets.authenticate("scjg-lead", shown["scjg-lead"])
        assert (user.department, user.role) == ("hz-scjg", "lead")
        departments = {a.department for a in DEMO_ACCOUNTS}
        assert {"hz-scjg", "sd-yjj", "hz-xzsp", "hz-chuishao"} <= departments
    finally:
        services.close()


def test_no_demo_accounts_outside_development_or_when_switched_off(make_settings, tmp_path):
    for settings in (
        make_settings(database_url=f"sqlite:///{tmp_path / 'a.db'}"),  # CHUISHAO_ENV=test
        make_settings(
            chuishao_env="development", demo_accounts=False, database_url=f"sqlite:///{tmp_path / 'b.db'}"
        ),
    ):
        runner = Runner(settings, services=[], out=io.StringIO(), root=tmp_path, check_model=False)
        assert runner.seed_demo_accounts() is None
        assert runner.demo_lines == []
    assert not (tmp_path / "a.db").exists() and not (tmp_path / "b.db").exists()


def test_every_demo_department_exists_in_the_knowledge_base(knowledge):
    for account in DEMO_ACCOUNTS:
        assert account.department in knowledge.departments, account
    # Class II medical-device registration is the province's (省药监局); its staff have demo accounts.
    md2 = knowledge.procedures["md2-registration-first"]
    assert md2.department in {a.department for a in DEMO_ACCOUNTS}
