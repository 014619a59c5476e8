"""Checks of what the handoff form collects: credit code (GB 32100-2015), mobile, names, one-go details."""

from __future__ import annotations

import random

import pytest

from actions.validation import (
    check_company_name,
    check_contact_name,
    check_credit_code,
    check_mobile,
    extract_details,
    is_cancel,
    is_skip,
)

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [pow(3, i, 31) for i in range(17)]  # 1, 3, 9, 27, 19, 26, ... as the standard lists them


def with_check_char(first17: str) -> str:
    """The standard's algorithm, written out independently of the module under test."""
    total = sum(CHARSET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return first17 + CHARSET[(31 - total % 31) % 31]


def test_weights_are_the_standards():
    assert WEIGHTS == [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000600037341L"])
def test_real_looking_codes_pass(code):
    assert check_credit_code(code).value == code


def test_generated_codes_pass_and_every_other_check_char_fails():
    rng = random.Random(7)
    for _ in range(50):
        first17 = "91" + "".join(rng.choice(CHARSET) for _ in range(15))
        code = with_check_char(first17)
        assert check_credit_code(code).ok, code
        assert check_credit_code(code.lower()).value == code  # typed in lower case
        for wrong in CHARSET:
            if wrong != code[-1]:
                assert not check_credit_code(first17 + wrong).ok


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("91350100M000100Y4", "18位"),
        ("91350100M000100Y44", "校验位"),
        ("91350100M000100O43", "O"),
        ("", "18位"),
    ],
)
def test_invalid_codes_are_explained(text, reason):
    check = check_credit_code(text)
    assert not check.ok
    assert reason in check.reason


@pytest.mark.parametrize(
    ("text", "mobile"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 139 1234 5678", "13912345678"),
        ("+8613912345678", "13912345678"),
        ("手机：19953001234，白天都在", "19953001234"),
    ],
)
def test_mobile_numbers_tolerate_spaces_dashes_and_country_code(text, mobile):
    assert check_mobile(text).value == mobile


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("12345", "11位"),
        ("12800138000", "13至19"),
        ("没有手机", "没有看到手机号码"),
        ("0530-1234567", "13至19"),
    ],
)
def test_invalid_mobile_numbers_are_explained(text, reason):
    check = check_mobile(text)
    assert not check.ok
    assert reason in check.reason


def test_details_in_one_go():
    assert extract_details("我是菏泽某某药业有限公司，联系人张三，电话13800138000") == {
        "company_name": "菏泽某某药业有限公司",
        "contact_name": "张三",
        "mobile": "13800138000",
    }
    assert extract_details("联系人是赵六，手机+86 139 1234 5678，信用代码91350100M000100Y43") == {
        "contact_name": "赵六",
        "mobile": "13912345678",
        "credit_code": "91350100M000100Y43",
    }
    assert extract_details("营业执照变更法人要什么材料") == {}


def test_names():
    assert check_company_name("我们公司是山东鲁西新材料股份有限公司").value == "山东鲁西新材料股份有限公司"
    assert check_company_name("菏泽市牡丹区华康大药房").value == "菏泽市牡丹区华康大药房"
    assert not check_company_name("1").ok
    assert not check_company_name("13800138000").ok
    assert not check_company_name("还是交给市场监管局吧").ok  # a sentence, not a name
    assert not check_company_name("这个要多久能办好？").ok
    assert check_contact_name("王女士").value == "王女士"
    assert check_contact_name("我叫李四").value == "李四"
    assert not check_contact_name("张3").ok
    assert not check_contact_name("还是交给市场监管局吧").ok


@pytest.mark.parametrize("text", ["没有", "跳过", "不知道", "无"])
def test_skip_words(text):
    assert is_skip(text)


@pytest.mark.parametrize(
    ("text", "cancel"),
    [
        ("取消", True),
        ("算了", True),
        ("不用了。", True),
        ("我要注销营业执照", False),
        ("取消登记要什么材料", False),
    ],
)
def test_cancel_words(text, cancel):
    assert is_cancel(text) is cancel
