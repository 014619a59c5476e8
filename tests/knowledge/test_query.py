import pytest

from knowledge.query import MAX_QUERY_CHARS, WEAK_ACTION_STRENGTH, understand
from knowledge.text import tokenizer_with_words

ITEMS = ["法定代表人", "企业负责人", "住所", "经营场所", "库房地址", "经营范围", "名称"]


@pytest.fixture(scope="module")
def tokenizer():
    return tokenizer_with_words([(item, 5000) for item in ITEMS])


@pytest.mark.parametrize(
    ("message", "action", "strength"),
    [
        ("排污证到期换证", "延续", 1.0),  # 到期 outranks 换
        ("申请变更营业执照", "变更", 1.0),  # 变更 outranks the weak 申请
        ("公司注销", "注销", 1.0),
        ("营业执照丢了", "补办", 1.0),
        ("新办排污许可证", "新办", 1.0),
        ("申请排污许可证", "新办", WEAK_ACTION_STRENGTH),
        ("二类备案凭证地址", "变更", WEAK_ACTION_STRENGTH),  # implied by a change item
        ("排污许可证", None, 0.0),
    ],
)
def test_action(tokenizer, message: str, action: str | None, strength: float) -> None:
    query = understand(message, tokenizer, ITEMS)
    assert (query.action, query.action_strength) == (action, strength)


def test_the_words_win_over_the_nlu_action(tokenizer) -> None:
    query = understand("排污证到期", tokenizer, ITEMS, action="变更", change_item="名称")
    assert query.action == "延续" and query.action_strength == 1.0
    assert "名称" in query.change_items


def test_the_nlu_action_fills_in_when_the_words_name_none(tokenizer) -> None:
    query = understand("排污证的事", tokenizer, ITEMS, action="注销")
    assert query.action == "注销" and query.action_strength == 1.0


def test_change_items_and_classes(tokenizer) -> None:
    query = understand("三类械仓库搬了，法人也换了", tokenizer, ITEMS)
    assert {"库房地址", "法定代表人", "住所"} <= query.change_items
    assert query.classes == {"第三类"}


@pytest.mark.parametrize(
    ("message", "generic"),
    [
        ("我想变更法人", True),
        ("请问怎么注销", True),
        ("法人换了要办什么", True),
        ("营业执照换法人", False),
        ("二类备案换法人", False),
        ("今天天气怎么样", False),  # names nothing, but says no action either: not a clarification
    ],
)
def test_generic(tokenizer, message: str, generic: bool) -> None:
    assert understand(message, tokenizer, ITEMS).generic is generic


def test_fillers_leave_the_content(tokenizer) -> None:
    query = understand("请问营业执照换法人需要啥材料？", tokenizer, ITEMS)
    assert query.content == "营业执照换法定代表人"
    assert query.residual == "营业执照"


def test_long_messages_are_cut(tokenizer) -> None:
    query = understand("社保开户" * 10_000, tokenizer, ITEMS)
    assert len(query.normalised) == MAX_QUERY_CHARS


@pytest.mark.parametrize(
    ("message", "cores"),
    [
        ("想办采砂许可证", ("采砂",)),  # the verb before it is not part of the name
        ("申领道路运输证要多久", ("道路运输",)),
        ("烟花爆竹经营许可证到期换证", ("爆竹经营",)),  # the second 证 is the action's, not a name
        ("营业执照换法人", ("营业",)),
        ("带法人身份证复印件", ()),  # a supporting paper, not a certificate
        ("要开证明吗", ()),
    ],
)
def test_certificates_named_in_the_message(tokenizer, message: str, cores: tuple[str, ...]) -> None:
    assert understand(message, tokenizer, ITEMS).licence_cores == cores
