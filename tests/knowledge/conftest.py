"""A small knowledge base written into tmp_path, with the near pairs the retriever must tell apart."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge import KnowledgeBase, Retriever

DEPARTMENTS: list[dict[str, Any]] = [
    {
        "code": "hz-xzsp",
        "name": "菏泽市行政审批服务局",
        "short_name": "市行政审批服务局",
        "aliases": ["市审批局", "菏泽审批局"],
        "level": "市级",
        "phone": "12345",
        "duties": ["相对集中行使市级行政许可事项"],
        "verified": False,
        "source": ["QD"],
    },
    {
        "code": "sd-yjj",
        "name": "山东省药品监督管理局",
        "short_name": "省药监局",
        "aliases": ["山东药监局"],
        "level": "省级",
        "phone": "12345",
        "duties": ["第二类医疗器械注册", "医疗器械生产许可"],
        "verified": False,
        "source": ["L47"],
    },
    {
        "code": "hz-scjg",
        "name": "菏泽市市场监督管理局",
        "short_name": "市市场监管局",
        "aliases": ["市场监管局", "工商局"],
        "level": "市级",
        "phone": "12315",
        "duties": ["市场主体登记"],
        "verified": False,
        "source": ["SZ"],
    },
    {
        "code": "hz-sthj",
        "name": "菏泽市生态环境局",
        "short_name": "市生态环境局",
        "aliases": ["环保局"],
        "level": "市级",
        "phone": "12345",
        "duties": ["排污许可"],
        "verified": False,
        "source": ["PW"],
    },
    {
        "code": "hz-sbj",
        "name": "菏泽市社会保险事业中心",
        "short_name": "市社保中心",
        "aliases": ["社保局"],
        "level": "市级",
        "phone": "12345",
        "duties": ["社会保险登记"],
        "verified": False,
        "source": ["SB"],
    },
]

# id -> the fields that differ between procedures; `procedure_data` fills in the rest.
PROCEDURES: dict[str, dict[str, Any]] = {
    "md2-operating-record": {
        "name": "第二类医疗器械经营备案",
        "aliases": ["二类医疗器械经营备案", "二类备案怎么办", "卖血压计要办啥"],
        "kind": "备案", "action": "新办", "licence": "第二类医疗器械经营备案凭证", "department": "hz-xzsp",
    },
    "md2-operating-record-change": {
        "name": "第二类医疗器械经营备案变更",
        "aliases": ["二类备案换法人", "二类医疗器械备案凭证变更", "二类备案凭证变更地址"],
        "kind": "备案", "action": "变更", "licence": "第二类医疗器械经营备案凭证", "department": "hz-xzsp",
        "change_items": ["法定代表人", "企业负责人", "经营场所", "库房地址", "经营范围"],
    },
    "md2-registration-change": {
        "name": "第二类医疗器械注册变更",
        "aliases": ["二类注册证变更", "二类医疗器械变更注册", "二类注册证变更住所"],
        "kind": "行政许可", "action": "变更", "licence": "第二类医疗器械注册证", "department": "sd-yjj",
        "change_items": ["注册人名称", "注册人住所", "产品名称", "型号规格", "生产地址"],
    },
    "md3-operating-licence": {
        "name": "第三类医疗器械经营首次许可",
        "aliases": ["三类医疗器械经营许可证", "办三类医疗器械经营许可证"],
        "kind": "行政许可", "action": "新办", "licence": "第三类医疗器械经营许可证", "department": "hz-xzsp",
    },
    "md3-operating-licence-change": {
        "name": "第三类医疗器械经营许可证变更（法定代表人、企业负责人）",
        "aliases": ["三类证变更法人", "三类医疗器械经营许可证换法人"],
        "kind": "行政许可", "action": "变更", "licence": "第三类医疗器械经营许可证", "department": "hz-xzsp",
        "change_items": ["法定代表人", "企业负责人"],
    },
    "md-production-licence-change": {
        "name": "医疗器械生产许可证登记事项变更",
        "aliases": ["医疗器械生产许可证变更法人", "医疗器械生产许可证改企业名称"],
        "kind": "行政许可", "action": "变更", "licence": "医疗器械生产许可证", "department": "sd-yjj",
        "change_items": ["企业名称", "法定代表人", "住所"],
    },
    "company-change-legal-rep": {
        "name": "企业变更登记（法定代表人）",
        "aliases": ["营业执照换法人", "公司变更法人", "公司换法人怎么办"],
        "kind": "登记", "action": "变更", "licence": "营业执照", "department": "hz-scjg",
        "change_items": ["法定代表人"],
    },
    "company-setup": {
        "name": "企业设立登记",
        "aliases": ["注册公司", "办营业执照", "开公司要多久"],
        "kind": "登记", "action": "新办", "licence": "营业执照", "department": "hz-scjg",
    },
    "pollutant-permit": {
        "name": "排污许可证首次申请",
        "aliases": ["办排污许可证", "排污证怎么申请"],
        "kind": "行政许可", "action": "新办", "licence": "排污许可证", "department": "hz-sthj",
    },
    "pollutant-permit-renewal": {
        "name": "排污许可证延续",
        "aliases": ["排污证到期", "排污证续期", "排污许可证快过期了"],
        "kind": "行政许可", "action": "延续", "licence": "排污许可证", "department": "hz-sthj",
    },
    "pollutant-permit-change": {
        "name": "排污许可证变更",
        "aliases": ["排污证换法人", "排污证改地址"],
        "kind": "行政许可", "action": "变更", "licence": "排污许可证", "department": "hz-sthj",
        "change_items": ["名称", "住所", "法定代表人"],
    },
    "social-insurance-registration": {
        "name": "社会保险单位参保登记",
        "aliases": ["社保开户", "单位参保登记", "给员工上社保"],
        "kind": "登记", "action": "新办", "department": "hz-sbj",
    },
}


def _procedure_data(procedure_id: str, **overrides: Any) -> dict[str, Any]:
    """A complete, valid procedure entry (as YAML would give it)."""
    data: dict[str, Any] = {
        "id": procedure_id,
        "name": f"测试事项{procedure_id}",
        "aliases": [],
        "kind": "行政许可",
        "action": "新办",
        "applies_to": "申请办理该事项的企业",
        "department": "hz-xzsp",
        "conditions": [],
        "materials": [
            {"name": "申请表", "form": "在线填报", "required": True},
            {"name": "授权委托书", "form": "原件", "copies": 1, "required": "委托他人办理时"},
        ],
        "steps": ["网上提交申请", "审核", "领取结果"],
        "time_limit": {"statutory_days": 20, "promised_days": None, "note": "法定20个工作日"},
        "fee": {"free": True, "note": "不收费"},
        "online": {"channels": ["山东政务服务网"], "url": "https://zwfw.sd.gov.cn"},
        "offline": "政务服务中心窗口",
        "legal_basis": [{"title": "医疗器械经营监督管理办法", "number": "国家市场监督管理总局令第54号",
                         "articles": ["第二十一条"]}],
        "notes": ["以最新办事指南为准"],
        "related": [],
        "source": ["L54"],
        "confidence": {"department": "R", "fee": "S"},
        "last_verified": dt.date(2026, 11, 1),
        "verified": False,
    }
    data.update(copy.deepcopy(PROCEDURES.get(procedure_id, {})))
    data.update(overrides)
    return data


class KnowledgeDir:
    """Writes a knowledge data directory; tests break entries on purpose before loading."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "procedures").mkdir(parents=True, exist_ok=True)

    def write_departments(self, departments: list[dict[str, Any]] | None = None) -> Path:
        path = self.root / "departments.yml"
        departments = copy.deepcopy(DEPARTMENTS) if departments is None else departments
        path.write_text(yaml.safe_dump({"departments": departments}, allow_unicode=True), encoding="utf-8")
        return path

    def write_procedure(self, data: dict[str, Any], stem: str | None = None) -> Path:
        path = self.root / "procedures" / f"{stem or data['id']}.yml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    def write_text(self, name: str, text: str) -> Path:
        path = self.root / "procedures" / name
        path.write_text(text, encoding="utf-8")
        return path

    def load(self) -> KnowledgeBase:
        return KnowledgeBase.load(self.root, today=dt.date(2026, 11, 26))


@pytest.fixture
def knowledge_dir(tmp_path: Path) -> KnowledgeDir:
    """The fixture base on disk: departments plus every procedure in PROCEDURES."""
    directory = KnowledgeDir(tmp_path / "data")
    directory.write_departments()
    for procedure_id in PROCEDURES:
        directory.write_procedure(_procedure_data(procedure_id))
    return directory


@pytest.fixture(scope="session")
def fixture_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    directory = KnowledgeDir(tmp_path_factory.mktemp("kb") / "data")
    directory.write_departments()
    for procedure_id in PROCEDURES:
        directory.write_procedure(_procedure_data(procedure_id))
    return directory.load()


@pytest.fixture(scope="session")
def retriever(fixture_kb: KnowledgeBase) -> Retriever:
    return Retriever.build(fixture_kb)


@pytest.fixture
def procedure_data() -> Callable[..., dict[str, Any]]:
    """procedure_data(id, **overrides): a complete, valid entry; fixture procedures get their fields."""
    return _procedure_data


@pytest.fixture
def departments_data() -> list[dict[str, Any]]:
    return copy.deepcopy(DEPARTMENTS)
