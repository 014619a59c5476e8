"""KnowledgeBase.load: whole-base rules, every problem collected in one KnowledgeError."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from knowledge import KnowledgeBase, KnowledgeError
from knowledge.loader import PACKAGE_DIR, Problem, default_root


def problems_of(knowledge_dir) -> set[tuple[str, str]]:
    """(file name, field) of every problem the load reports."""
    with pytest.raises(KnowledgeError) as caught:
        knowledge_dir.load()
    return {(Path(p.file).name, p.field) for p in caught.value.problems}


def reasons_of(knowledge_dir) -> list[str]:
    with pytest.raises(KnowledgeError) as caught:
        knowledge_dir.load()
    return [p.reason for p in caught.value.problems]


def test_fixture_base_loads(knowledge_dir) -> None:
    kb = knowledge_dir.load()
    assert len(kb.procedures) == 12 and len(kb.departments) == 5
    procedure = kb.procedure("md2-operating-record-change")
    assert procedure.name == "第二类医疗器械经营备案变更"
    assert kb.department_of(procedure).code == "hz-xzsp"
    assert kb.department_of("md2-registration-change").short_name == "省药监局"
    assert kb.root == knowledge_dir.root
    with pytest.raises(KeyError):
        kb.procedure("no-such-procedure")


def test_id_must_equal_file_stem(knowledge_dir, procedure_data) -> None:
    knowledge_dir.write_procedure(procedure_data("md2-operating-record"), stem="md2-record")
    assert ("md2-record.yml", "id") in problems_of(knowledge_dir)


def test_duplicate_id(knowledge_dir, procedure_data) -> None:
    knowledge_dir.write_procedure(procedure_data("company-setup", name="企业开办"), stem="company-setup-2")
    reasons = reasons_of(knowledge_dir)
    assert any(r.startswith("duplicate id 'company-setup'") for r in reasons)


def test_unknown_department(knowledge_dir, procedure_data) -> None:
    knowledge_dir.write_procedure(procedure_data("company-setup", department="hz-nowhere"))
    assert problems_of(knowledge_dir) == {("company-setup.yml", "department")}
    assert reasons_of(knowledge_dir) == ["unknown department code 'hz-nowhere'"]


def test_duplicate_alias_across_procedures(knowledge_dir, procedure_data) -> None:
    # "Ⅱ类备案换法人" normalises to the same text as md2-operating-record-change's "二类备案换法人"
    knowledge_dir.write_procedure(procedure_data("md2-operating-record", aliases=["Ⅱ类备案换法人"]))
    assert problems_of(knowledge_dir) == {("md2-operating-record.yml", "aliases[0]")}
    [reason] = reasons_of(knowledge_dir)
    assert "md2-operating-record-change" in reason


def test_alias_equal_to_another_procedures_name(knowledge_dir, procedure_data) -> None:
    knowledge_dir.write_procedure(procedure_data("company-setup", aliases=["排污许可证延续"]))
    expected = "'排污许可证延续' is the name of procedure 'pollutant-permit-renewal'"
    assert reasons_of(knowledge_dir) == [expected]


def test_duplicate_name(knowledge_dir, procedure_data) -> None:
    knowledge_dir.write_procedure(procedure_data("x-copy", name="企业设立登记"))
    assert problems_of(knowledge_dir) == {("x-copy.yml", "name")}


def test_alias_without_searchable_characters(knowledge_dir, procedure_data) -> None:
    knowledge_dir.write_procedure(procedure_data("company-setup", aliases=["😀！"]))
    assert problems_of(knowledge_dir) == {("company-setup.yml", "aliases[0]")}


def test_future_last_verified(knowledge_dir, procedure_data) -> None:
    knowledge_dir.write_procedure(procedure_data("company-setup", last_verified=dt.date(2026, 11, 27)))
    assert reasons_of(knowledge_dir) == ["2026-11-27 is in the future"]


def test_verified_with_r_confidence_is_reported_by_file(knowledge_dir, procedure_data) -> None:
    knowledge_dir.write_procedure(procedure_data("company-setup", verified=True))
    assert problems_of(knowledge_dir) == {("company-setup.yml", "verified")}


def test_unknown_related_id(knowledge_dir, procedure_data) -> None:
    knowledge_dir.write_procedure(procedure_data("company-setup", related=["company-setup-x"]))
    assert problems_of(knowledge_dir) == {("company-setup.yml", "related[0]")}


def test_yaml_syntax_error_with_line(knowledge_dir) -> None:
    knowledge_dir.write_text("broken.yml", "id: broken\nname: [unclosed\nkind: 备案\n")
    with pytest.raises(KnowledgeError) as caught:
        knowledge_dir.load()
    [problem] = caught.value.problems
    assert Path(problem.file).name == "broken.yml"
    assert problem.reason.startswith("YAML syntax error")
    assert problem.line is not None


def test_duplicate_yaml_key(knowledge_dir, procedure_data) -> None:
    path = knowledge_dir.write_procedure(procedure_data("company-setup"))
    path.write_text(path.read_text(encoding="utf-8") + "kind: 备案\n", encoding="utf-8")
    assert problems_of(knowledge_dir) == {("company-setup.yml", "kind")}


def test_non_mapping_and_wrong_extension(knowledge_dir) -> None:
    knowledge_dir.write_text("list.yml", "- a\n- b\n")
    knowledge_dir.write_text("other.yaml", "id: other\n")
    knowledge_dir.write_text("README.md", "not a procedure")
    assert problems_of(knowledge_dir) == {("list.yml", "-"), ("other.yaml", "-")}


def test_missing_departments_file(knowledge_dir) -> None:
    (knowledge_dir.root / "departments.yml").unlink()
    problems = problems_of(knowledge_dir)
    assert ("departments.yml", "-") in problems
    # every procedure now names an unknown department: reported too, so nothing is hidden
    assert ("company-setup.yml", "department") in problems


def test_every_problem_is_reported_at_once(knowledge_dir, procedure_data, departments_data) -> None:
    departments_data.append(dict(departments_data[0]))  # duplicate code
    knowledge_dir.write_departments(departments_data)
    knowledge_dir.write_procedure(procedure_data("company-setup", department="hz-nowhere"))
    knowledge_dir.write_procedure(procedure_data("pollutant-permit", kind="许可"))
    knowledge_dir.write_procedure(procedure_data("social-insurance-registration"), stem="social")
    knowledge_dir.write_text("broken.yml", "id: [\n")
    problems = problems_of(knowledge_dir)
    assert {
        ("departments.yml", "code"),
        ("company-setup.yml", "department"),
        ("pollutant-permit.yml", "kind"),
        ("social.yml", "id"),
        ("broken.yml", "-"),
    } <= problems


def test_an_invalid_entry_is_still_checked_against_the_base(knowledge_dir, procedure_data) -> None:
    broken = procedure_data("company-setup", kind="许可", department="hz-nowhere")
    knowledge_dir.write_procedure(broken, stem="company")
    assert problems_of(knowledge_dir) == {("company.yml", "kind"), ("company.yml", "department"),
                                          ("company.yml", "id")}


def test_an_invalid_entry_does_not_cascade(knowledge_dir, procedure_data) -> None:
    """A broken procedure is reported once, not again as an unknown `related` target."""
    knowledge_dir.write_procedure(procedure_data("company-setup", kind="许可"))
    knowledge_dir.write_procedure(procedure_data("social-insurance-registration", related=["company-setup"]))
    assert problems_of(knowledge_dir) == {("company-setup.yml", "kind")}


def test_problem_and_error_formatting() -> None:
    problem = Problem("procedures/a.yml", "materials[0].form", "unexpected value", line=12)
    assert str(problem) == "procedures/a.yml:12: materials[0].form: unexpected value"
    assert str(Problem("departments.yml", "", "file not found")) == "departments.yml: -: file not found"
    error = KnowledgeError([problem])
    assert error.problems == [problem]
    assert "1 problem(s)" in str(error) and str(problem) in str(error)


def test_root_comes_from_env_or_package(monkeypatch: pytest.MonkeyPatch, knowledge_dir) -> None:
    monkeypatch.delenv("KNOWLEDGE_DIR", raising=False)
    assert default_root() == PACKAGE_DIR / "data"
    monkeypatch.setenv("KNOWLEDGE_DIR", str(knowledge_dir.root))
    monkeypatch.chdir(knowledge_dir.root.parent)  # any cwd
    assert default_root() == knowledge_dir.root
    assert len(KnowledgeBase.load(today=dt.date(2026, 11, 26)).procedures) == 12


def test_fingerprint_follows_content(knowledge_dir, procedure_data) -> None:
    first = knowledge_dir.load().fingerprint()
    assert knowledge_dir.load().fingerprint() == first
    knowledge_dir.write_procedure(procedure_data("company-setup", steps=["一窗通提交"]))
    assert knowledge_dir.load().fingerprint() != first


REAL_PROCEDURES = PACKAGE_DIR / "data" / "procedures"


@pytest.mark.skipif(not any(REAL_PROCEDURES.glob("*.yml")), reason="knowledge/data/procedures is empty")
def test_real_knowledge_base_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KNOWLEDGE_DIR", raising=False)
    kb = KnowledgeBase.load()  # raises KnowledgeError listing every problem
    assert kb.procedures and kb.departments
    for procedure in kb.procedures.values():
        assert kb.department_of(procedure).code == procedure.department
