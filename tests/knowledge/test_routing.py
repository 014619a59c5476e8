"""DepartmentRouter on the fixture knowledge base of tests/actions/conftest.py."""

from __future__ import annotations

import pytest

from knowledge import KnowledgeBase, Retriever
from knowledge.routing import CHUISHAO_OFFICE, DepartmentRouter
from tests.actions.conftest import write_knowledge_base


@pytest.fixture(scope="module")
def kb(tmp_path_factory) -> KnowledgeBase:
    return KnowledgeBase.load(write_knowledge_base(tmp_path_factory.mktemp("kb")))


@pytest.fixture(scope="module")
def router(kb) -> DepartmentRouter:
    return DepartmentRouter.build(kb)


def test_the_procedure_in_context_decides(router):
    routing = router.route("转人工", procedure_id="md2-registration-change")
    assert (routing.department, routing.reason) == ("sd-yjj", "procedure")
    assert routing.candidates[0] == "sd-yjj"
    assert routing.candidates[-1] == CHUISHAO_OFFICE  # the office is always a choice
    assert len(routing.candidates) == len(set(routing.candidates)) <= 4


def test_a_named_department_decides(router):
    routing = router.route("我要找人社局的人")
    assert (routing.department, routing.reason) == ("hz-rsj", "named")


def test_two_named_departments_go_to_the_office(router):
    routing = router.route("人社局和省药监局互相推诿")
    assert (routing.department, routing.reason) == (CHUISHAO_OFFICE, "unclear")
    assert {"hz-rsj", "sd-yjj"} <= set(routing.candidates)


@pytest.mark.parametrize(
    ("text", "department"),
    [
        ("单位社保登记办了一个月还没好", "hz-rsj"),
        ("二类医疗器械注册证变更一直没有回音", "sd-yjj"),
        ("营业执照变更法人被退回三次", "hz-xzsp"),
    ],
)
def test_the_classifier_finds_the_department_from_duties_and_procedures(router, text, department):
    routing = router.route(text)
    assert routing.department == department
    assert routing.reason == "classifier"


@pytest.mark.parametrize("text", ["", "你好", "窗口态度太差了", "我要吹哨"])
def test_unclear_problems_go_to_the_office(router, text):
    routing = router.route(text)
    assert routing.department == CHUISHAO_OFFICE
    assert routing.unclear


def test_the_office_is_never_a_classifier_match(router):
    assert CHUISHAO_OFFICE not in router.codes
    assert router.route("接收跨部门、职责不清的企业诉求").reason == "unclear"


def test_a_confident_retriever_answer_names_the_procedures_department(kb):
    router = DepartmentRouter.build(kb, Retriever.build(kb))
    routing = router.route("社保开户")
    assert routing.department == "hz-rsj"
    assert routing.reason in {"matched", "classifier"}
