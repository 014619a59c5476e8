"""The models enforce docs/knowledge-format.md; the loader reports their errors as file/field/reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from knowledge import KnowledgeError
from knowledge.schema import Department, Procedure, ServiceLevel


def errors(data: dict[str, Any]) -> dict[str, str]:
    """field path -> message of Procedure's validation errors."""
    with pytest.raises(ValidationError) as caught:
        Procedure.parse_obj(data)
    return {".".join(map(str, e["loc"])): e["msg"] for e in caught.value.errors()}


def test_a_complete_entry_parses(procedure_data) -> None:
    procedure = Procedure.parse_obj(procedure_data("md2-operating-record-change"))
    assert procedure.action == "变更"
    assert procedure.materials[1].required == "委托他人办理时"
    assert procedure.time_limit.promised_days is None
    assert procedure.last_verified == dt.date(2026, 11, 1)
    assert procedure.licence_class == "第二类"
    assert Procedure.parse_obj(procedure_data("company-setup")).licence_class is None


def test_optional_fields_default(procedure_data) -> None:
    data = procedure_data("x-minimal")
    for key in ("aliases", "conditions", "notes", "related", "confidence", "offline"):
        del data[key]
    procedure = Procedure.parse_obj(data)
    assert procedure.aliases == [] and procedure.licence is None and procedure.offline is None


def test_department_defaults_its_service_level(departments_data) -> None:
    department = Department.parse_obj(departments_data[0])
    assert department.service_level == ServiceLevel(
        first_contact_days=1, reply_days=3, resolve_days=15, extend_to_days=30
    )


@pytest.mark.parametrize("missing", ["name", "kind", "applies_to", "steps", "time_limit", "fee", "verified"])
def test_missing_required_field(procedure_data, missing: str) -> None:
    data = procedure_data("x-missing")
    del data[missing]
    assert errors(data)[missing] == "field required"


def test_time_limit_days_must_be_present_even_if_null(procedure_data) -> None:
    data = procedure_data("x-days")
    data["time_limit"] = {"statutory_days": 5}
    assert errors(data) == {"time_limit.promised_days": "field required"}


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("name", 123, "name"),  # YAML gave an int; no silent str()
        ("verified", "yes", "verified"),
        ("aliases", "二类备案", "aliases"),  # a string, not a list
        ("time_limit", {"statutory_days": "20", "promised_days": None}, "time_limit.statutory_days"),
        ("time_limit", {"statutory_days": -1, "promised_days": None}, "time_limit.statutory_days"),
        ("fee", {"free": "免费"}, "fee.free"),
        ("kind", "许可", "kind"),
        ("action", "办理", "action"),
        ("id", "MD2_change", "id"),
        ("online", {"channels": [], "url": "zwfw.sd.gov.cn"}, "online.url"),
        ("last_verified", 20261126, "last_verified"),
        ("confidence", {"fee": "X"}, "confidence.fee"),
        ("materials", [{"name": "申请表", "form": "扫描件", "required": True}], "materials.0.form"),
        ("materials", [{"name": "申请表", "form": "原件", "required": False}], "materials.0.required"),
        ("aliases", ["二类备案", "二类备案"], "aliases"),
    ],
)
def test_wrong_type_or_value(procedure_data, field: str, value: Any, path: str) -> None:
    assert path in errors(procedure_data("x-wrong", **{field: value}))


def test_unknown_field_is_reported(procedure_data) -> None:
    assert errors(procedure_data("x-typo", change_item=["法定代表人"])) == {
        "change_item": "extra fields not permitted"
    }


def test_verified_needs_no_r_confidence(procedure_data) -> None:
    data = procedure_data("x-verified", verified=True, confidence={"fee": "R", "department": "V"})
    assert errors(data) == {"verified": "is true but confidence is R for: fee"}
    assert Procedure.parse_obj(procedure_data("x-ok", verified=True, confidence={"fee": "V"})).verified


def test_department_phone_must_be_a_quoted_string(departments_data) -> None:
    with pytest.raises(ValidationError) as caught:
        Department.parse_obj({**departments_data[0], "phone": 12345})
    assert [e["loc"] for e in caught.value.errors()] == [("phone",)]


def test_service_level_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="first_contact_days <= reply_days"):
        ServiceLevel(first_contact_days=5, reply_days=3)


def test_loader_reports_schema_errors_with_file_field_and_reason(knowledge_dir, procedure_data) -> None:
    data = procedure_data("md2-operating-record")
    del data["steps"]
    data["fee"] = {"free": "免费"}
    data["materials"][0]["form"] = "扫描件"
    path = knowledge_dir.write_procedure(data)
    with pytest.raises(KnowledgeError) as caught:
        knowledge_dir.load()
    found = {(p.file, p.field): p for p in caught.value.problems}
    assert set(found) == {
        (str(path), "steps"),
        (str(path), "fee.free"),
        (str(path), "materials[0].form"),
    }
    assert found[(str(path), "steps")].reason == "field required"
    assert found[(str(path), "fee.free")].reason == "value is not a valid boolean"
    assert "permitted: '原件'" in found[(str(path), "materials[0].form")].reason
    lines = path.read_text(encoding="utf-8").splitlines()
    assert "扫描件" in lines[found[(str(path), "materials[0].form")].line - 1]


def test_department_schema_errors_name_the_list_entry(knowledge_dir, departments_data) -> None:
    departments_data[2]["level"] = "地级"
    path = knowledge_dir.write_departments(departments_data)
    with pytest.raises(KnowledgeError) as caught:
        knowledge_dir.load()
    [problem] = caught.value.problems
    assert (problem.file, problem.field) == (str(path), "departments[2].level")
    assert "permitted: '省级'" in problem.reason
