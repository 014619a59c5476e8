"""Rasa's replies as WeChat text: size limit, numbered options, digit replies."""

from __future__ import annotations

import pytest

from bot.wechat.formatting import parse_choice, render, split_text, utf8_len


def test_short_text_is_one_piece() -> None:
    assert split_text("  您好  ") == ["您好"]
    assert split_text("") == []


def test_chinese_text_is_cut_at_sentence_ends_within_the_byte_limit() -> None:
    text = "营业执照变更需要提交申请书。" * 100  # 14 characters, 42 bytes each sentence
    parts = split_text(text, limit=200)
    assert all(utf8_len(part) <= 200 for part in parts)
    assert all(part.endswith("。") for part in parts)
    assert "".join(parts) == text


def test_text_without_separators_is_cut_between_characters() -> None:
    text = "证" * 1000 + "🙂" * 10
    parts = split_text(text, limit=2048)
    assert all(utf8_len(part) <= 2048 for part in parts)
    assert "".join(parts) == text  # no character broken, nothing lost


def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    text = "第一段" * 50 + "\n\n" + "第二段" * 50
    assert split_text(text, limit=500) == ["第一段" * 50, "第二段" * 50]


def test_buttons_become_numbered_options_across_messages_and_custom_payloads_are_silent() -> None:
    rendered = render(
        [
            {"text": "请问您要办理的是哪个事项？", "buttons": [{"title": "甲", "payload": "/a"}]},
            {"custom": {"type": "clarify", "candidates": []}},
            {
                "text": "也可以选：",
                "buttons": [{"title": "乙", "payload": "/b"}, {"title": None, "payload": "/x"}],
            },
        ]
    )
    assert rendered.chunks == [
        "请问您要办理的是哪个事项？\n\n回复数字选择：\n1. 甲\n\n也可以选：\n\n回复数字选择：\n2. 乙"
    ]
    assert rendered.payloads == ["/a", "/b"]


@pytest.mark.parametrize(
    ("text", "count", "expected"),
    [
        ("1", 2, 0),
        (" 2 ", 2, 1),
        ("２", 2, 1),
        ("2.", 2, 1),
        ("3", 2, None),
        ("0", 2, None),
        ("1个", 2, None),
        ("一", 2, None),
        ("1", 0, None),
    ],
)
def test_digit_replies_pick_an_option(text: str, count: int, expected: int | None) -> None:
    assert parse_choice(text, count) == expected
