from __future__ import annotations

import pytest

from actions.followup import (
    aspect_in_words,
    contrast_topic,
    earlier_change_item,
    fits_context,
    is_modifier,
    names_nothing,
    names_other_topic,
    topic_words,
)


@pytest.mark.parametrize(
    ("text", "topic", "words"),
    [
        ("那三类的呢", "三类", "三类"),
        ("社保登记呢？", "社保登记", "社保登记"),
        ("个体户呢", "个体户", "个体户"),
        ("那材料呢", "材料", ""),
        ("那要多久呢", "要多久", ""),
        ("收费呢", "收费", ""),
        ("二类医疗器械备案变更需要什么材料", None, None),
        ("要带什么材料？", None, None),
    ],
)
def test_contrast_topic(text, topic, words):
    assert contrast_topic(text) == topic
    assert (topic_words(topic) if topic is not None else None) == words


@pytest.mark.parametrize(
    ("topic", "modifier"),
    [
        ("三类", True),
        ("延续的", True),
        ("换地址", True),
        ("变更法人", True),
        ("社保登记", False),
        ("个体户", False),
    ],
)
def test_is_modifier(procedures, topic, modifier):
    assert is_modifier(topic, procedures["md2-operating-record-change"]) is modifier


@pytest.mark.parametrize(
    ("text", "nothing", "other"),
    [
        ("要带什么材料？", True, False),
        ("收费吗", True, False),
        ("哪个部门管", True, False),
        ("网上能办吗", True, False),
        ("流程是怎样的", True, False),
        ("可以委托别人办吗", False, False),
        ("我要办游艇驾驶证", False, True),
        ("食品经营许可怎么办", False, True),
        ("我们公司去年在郓城县开了一家小超市现在想扩大经营", False, True),
    ],
)
def test_what_a_message_names(text, nothing, other):
    assert names_nothing(text) is nothing
    assert names_other_topic(text) is other


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("那材料呢", "materials"),
        ("流程是怎样的", "steps"),
        ("多久能办好", "time_limit"),
        ("收费吗", "fee"),
        ("在哪里办", "location"),
        ("网上能办吗", "online"),
        ("法律依据是什么", "legal_basis"),
        ("哪个部门管", "department"),
        ("好的", None),
    ],
)
def test_aspect_in_words(text, aspect):
    assert aspect_in_words(text) == aspect


@pytest.mark.parametrize(
    ("entities", "fits"),
    [
        ([], True),
        ([{"entity": "action", "value": "变更"}, {"entity": "change_item", "value": "法定代表人"}], True),
        ([{"entity": "action", "value": "注销"}], False),
        ([{"entity": "change_item", "value": "法人"}], True),
        ([{"entity": "change_item", "value": "注册资本"}], False),
        ([{"entity": "licence", "value": "营业执照"}], False),
        ([{"entity": "procedure", "value": "社保开户"}], False),
    ],
)
def test_fits_context(procedures, entities, fits):
    assert fits_context(procedures["md2-operating-record-change"], entities) is fits


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        pytest.param([], None, id="no-history"),
        pytest.param([("二类备案证变更法人", "ask_procedure", {"change_item": "法人"})], "法人", id="named"),
        pytest.param(
            [
                ("二类备案证变更法人", "ask_procedure", {"change_item": "法人"}),
                ("要带什么材料", "ask_materials", {}),
            ],
            "法人",
            id="named-two-messages-ago",
        ),
        pytest.param(
            [
                ("二类备案证变更法人", "ask_procedure", {"change_item": "法人"}),
                ("公司增资怎么办", "ask_procedure", {"change_item": "注册资本"}),
            ],
            None,
            id="latest-item-does-not-fit-the-context",
        ),
    ],
)
def test_earlier_change_item(procedures, make_tracker, history, expected):
    tracker = make_tracker("那三类的呢", history=history)

    assert earlier_change_item(tracker, procedures["md2-operating-record-change"]) == expected


def test_the_current_message_is_not_earlier(procedures, make_tracker):
    tracker = make_tracker("变更法人", entities={"change_item": "法人"})

    assert earlier_change_item(tracker, procedures["md2-operating-record-change"]) is None
