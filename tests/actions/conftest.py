"""Fixtures for the action tests: a small knowledge base in tmp_path, a client built from it,
trackers, a dispatcher and a domain."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.clients.knowledge import KnowledgeClient, KnowledgeSettings
from knowledge.schema import Department, Procedure

DEPARTMENTS = [
    {
        "code": "hz-xzsp",
        "name": "菏泽市行政审批服务局",
        "short_name": "市行政审批服务局",
        "aliases": ["市审批局"],
        "level": "市级",
        "address": None,
        "window": None,
        "phone": "0530-1111111",
        "hours": None,
        "duties": ["相对集中行使市级行政许可事项"],
        "verified": False,
        "source": ["S"],
    },
    {
        "code": "sd-yjj",
        "name": "山东省药品监督管理局",
        "short_name": "省药监局",
        "aliases": ["省药监局"],
        "level": "省级",
        "address": "济南市历下区某路1号",
        "window": "政务服务大厅3号窗口",
        "phone": "0531-2222222",
        "hours": "工作日 9:00-17:00",
        "duties": ["第二类医疗器械注册"],
        "verified": True,
        "source": ["V"],
    },
    {
        "code": "hz-rsj",
        "name": "菏泽市人力资源和社会保障局",
        "short_name": "市人社局",
        "aliases": ["人社局"],
        "level": "市级",
        "address": None,
        "window": None,
        "phone": "12333",
        "hours": None,
        "duties": ["社会保险登记"],
        "verified": False,
        "source": ["SB"],
    },
    {
        "code": "hz-chuishao",
        "name": "菏泽市企业吹哨办",
        "short_name": "企业吹哨办",
        "aliases": ["吹哨办"],
        "level": "市级",
        "address": None,
        "window": None,
        "phone": "0530-3333333",
        "hours": None,
        "duties": ["接收跨部门、职责不清的企业诉求"],
        "verified": False,
        "source": ["HZ1"],
    },
]


def _procedure(pid: str, name: str, aliases: list[str], **fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": pid,
        "name": name,
        "aliases": aliases,
        "kind": "备案",
        "action": "变更",
        "applies_to": "菏泽的企业",
        "department": "hz-xzsp",
        "conditions": [],
        "materials": [{"name": "申请表", "form": "在线填报", "required": True}],
        "steps": ["网上提交申请", "部门审核"],
        "time_limit": {"statutory_days": 0, "promised_days": None, "note": None},
        "fee": {"free": True, "note": "不收费"},
        "online": {"channels": ["山东政务服务网", "爱山东"], "url": "https://zwfw.sd.gov.cn"},
        "offline": "市行政审批服务局政务服务窗口",
        "legal_basis": [],
        "notes": [],
        "source": ["L54"],
        "confidence": {"department": "R"},
        "last_verified": "2026-11-20",
        "verified": False,
    }
    entry.update(fields)
    return entry


PROCEDURES = [
    _procedure(
        "md2-operating-record-change",
        "第二类医疗器械经营备案变更",
        ["二类备案证变更法人", "二类备案换法人", "二类医疗器械备案凭证变更"],
        licence="第二类医疗器械经营备案凭证",
        change_items=["法定代表人", "企业负责人", "经营场所", "库房地址", "经营范围"],
        conditions=["营业执照上的法定代表人已先行变更"],
        materials=[
            {"name": "变更备案信息", "form": "在线填报", "required": True},
            {"name": "变更后的营业执照", "form": "复印件", "copies": 1, "required": "变更法定代表人时"},
            {"name": "经办人授权文件", "form": "原件", "required": True, "notes": "本人办理的不需要"},
        ],
        steps=["先变更营业执照", "通过山东政务服务网提交变更备案", "备案部门当场完成变更备案"],
        time_limit={"statutory_days": 0, "promised_days": None, "note": "备案事项，提交齐全材料即完成"},
        legal_basis=[
            {"title": "医疗器械经营监督管理办法", "number": "国家市场监督管理总局令第54号",
             "articles": ["第十条", "第二十四条"]},
        ],
        notes=["营业执照变更在先：作出变更决议后30日内申请变更登记"],
        related=["md3-operating-licence-change"],
    ),
    _procedure(
        "md3-operating-licence-change",
        "第三类医疗器械经营许可变更",
        ["三类医疗器械经营许可证变更", "三类许可证换法人", "三类经营许可证变更法人"],
        kind="行政许可",
        licence="第三类医疗器械经营许可证",
        change_items=["法定代表人", "企业负责人"],
        materials=[
            {"name": "医疗器械经营许可变更申请表", "form": "在线填报", "required": True},
            {"name": "变更事项相关材料", "form": "复印件", "copies": 2, "required": True},
        ],
        time_limit={"statutory_days": 20, "promised_days": 10, "note": "法定代表人等其他事项当场变更"},
        legal_basis=[
            {"title": "医疗器械经营监督管理办法", "number": "国家市场监督管理总局令第54号",
             "articles": ["第十五条"]},
        ],
        confidence={"department": "V"},
        verified=True,
    ),
    _procedure(
        "md3-operating-licence-change-premises",
        "第三类医疗器械经营许可许可事项变更",
        ["三类许可证换地址", "三类经营许可证变更经营范围", "三类许可证仓库搬迁"],
        kind="行政许可",
        licence="第三类医疗器械经营许可证",
        change_items=["经营场所", "库房地址", "经营范围", "经营方式"],
        time_limit={"statutory_days": 20, "promised_days": None, "note": None},
    ),
    _procedure(
        "md2-registration-change",
        "第二类医疗器械注册证变更",
        ["二类注册证变更", "医疗器械注册证变更注册", "二类械注册证改名称"],
        kind="行政许可",
        licence="第二类医疗器械注册证",
        change_items=["注册人名称", "注册人住所", "产品名称", "型号规格"],
        department="sd-yjj",
        fee={"free": None, "note": None},
        online={"channels": [], "url": None},
        offline=None,
    ),
    _procedure(
        "company-change-registration",
        "企业变更登记",
        ["营业执照变更法人", "公司换法人", "公司改经营范围", "公司搬家换地址"],
        kind="登记",
        licence="营业执照",
        change_items=["法定代表人", "名称", "住所", "经营范围", "注册资本"],
        fee={"free": False, "note": "示例：收费说明"},
        time_limit={"statutory_days": 3, "promised_days": 1, "note": "材料齐全的当场办结"},
    ),
    _procedure(
        "company-setup-registration",
        "企业设立登记",
        ["注册公司", "办营业执照", "开公司", "新办企业"],
        kind="登记",
        action="新办",
        licence="营业执照",
        time_limit={"statutory_days": 3, "promised_days": 1, "note": "可当场办结的当场办结"},
        fee={"free": None, "note": "参考资料未载明"},
    ),
    _procedure(
        "social-insurance-registration",
        "社会保险单位参保登记",
        ["社保开户", "单位社保登记", "公司交社保"],
        kind="登记",
        action="新办",
        department="hz-rsj",
        fee={"free": True, "note": "社会保险费按规定另行缴纳"},
        time_limit={"statutory_days": 15, "promised_days": None, "note": "成立之日起30日内申请"},
    ),
]


def write_knowledge_base(
    root: Path,
    procedures: list[dict[str, Any]] = PROCEDURES,
    departments: list[dict[str, Any]] = DEPARTMENTS,
) -> Path:
    """Write departments.yml and procedures/<id>.yml under root, as `python -m knowledge` expects."""
    (root / "procedures").mkdir(parents=True, exist_ok=True)
    dump = {"allow_unicode": True, "sort_keys": False}
    (root / "departments.yml").write_text(yaml.safe_dump({"departments": departments}, **dump), "utf-8")
    for procedure in procedures:
        path = root / "procedures" / f"{procedure['id']}.yml"
        path.write_text(yaml.safe_dump(procedure, **dump), "utf-8")
    return root


@pytest.fixture(scope="session")
def procedures() -> dict[str, Procedure]:
    """The fixture procedures as models, for tests that need no retriever."""
    return {p["id"]: Procedure.parse_obj(p) for p in PROCEDURES}


@pytest.fixture(scope="session")
def departments() -> dict[str, Department]:
    return {d["code"]: Department.parse_obj(d) for d in DEPARTMENTS}


@pytest.fixture
def write_kb() -> Callable[..., Path]:
    """Write a variant of the fixture base: `write_kb(root, departments_without={"hz-chuishao"})`."""

    def _write(root: Path, departments_without: set[str] = frozenset()) -> Path:
        departments = [d for d in DEPARTMENTS if d["code"] not in departments_without]
        return write_knowledge_base(root, PROCEDURES, departments)

    return _write


@pytest.fixture(scope="session")
def kb_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_knowledge_base(tmp_path_factory.mktemp("knowledge"))


@pytest.fixture(scope="session")
def knowledge_client(kb_root: Path, tmp_path_factory: pytest.TempPathFactory) -> KnowledgeClient:
    """Loaded once for the session: the retriever is read-only, and building it is the slow part."""
    settings = KnowledgeSettings(knowledge_dir=kb_root, index_dir=tmp_path_factory.mktemp("no-index"))
    client = KnowledgeClient(settings)
    client.load()
    return client


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture
def domain() -> dict[str, Any]:
    custom = [{"type": "custom"}]
    return {
        "intents": ["ask_procedure", "ask_materials", "ask_time_limit", "request_human"],
        "entities": ["action", "change_item", "procedure", "licence", "department", "procedure_id"],
        "slots": {
            "procedure_id": {"type": "text", "influence_conversation": False, "mappings": custom},
            "aspect": {"type": "text", "influence_conversation": False, "mappings": custom},
            "candidates": {"type": "list", "influence_conversation": False, "mappings": custom},
            "handoff_offered": {"type": "bool", "influence_conversation": True, "mappings": custom},
        },
        "responses": {},
        "actions": ["action_answer_procedure", "action_request_human"],
    }


TrackerFactory = Callable[..., Tracker]


@pytest.fixture
def make_tracker() -> TrackerFactory:
    """Build a Tracker whose latest message has this text, intent and entities, and these slots."""

    def _parse(text: str, intent: str, entities: dict[str, str] | list[dict[str, Any]] | None) -> dict:
        if isinstance(entities, dict):
            entities = [{"entity": name, "value": value} for name, value in entities.items()]
        return {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []}

    def _make(
        text: str,
        intent: str = "ask_procedure",
        entities: dict[str, str] | list[dict[str, Any]] | None = None,
        history: list[tuple[str, str, dict[str, str]]] = (),
        **slots: Any,
    ) -> Tracker:
        """`history`: earlier user messages as (text, intent, entities), oldest first."""
        all_slots = {"procedure_id": None, "aspect": None, "candidates": None, "handoff_offered": None}
        all_slots.update(slots)
        latest_message = _parse(text, intent, entities)
        events = []
        for earlier in [*history, (text, intent, entities)]:
            parse_data = _parse(*earlier)
            events.append({"event": "user", "text": parse_data["text"], "parse_data": parse_data})
            events.append({"event": "action", "name": "action_listen"})
        return Tracker(
            sender_id="test-user",
            slots=all_slots,
            latest_message=latest_message,
            events=events[:-1],
            paused=False,
            followup_action=None,
            active_loop={},
            latest_action_name="action_listen",
        )

    return _make


class BrokenClient(KnowledgeClient):
    """A client whose knowledge base never loads, as when the data or index is broken."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(KnowledgeSettings(knowledge_dir=tmp_path / "missing", index_dir=tmp_path / "index"))


@pytest.fixture
def broken_client(tmp_path: Path) -> KnowledgeClient:
    return BrokenClient(tmp_path)
