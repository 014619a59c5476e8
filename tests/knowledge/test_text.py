import pytest

from knowledge.text import colloquial_variants, normalise, tokenize, tokenizer_with_words


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("二类械备案换法人", "第二类医疗器械备案换法定代表人"),
        ("三类器械经营许可", "第三类医疗器械经营许可"),
        ("Ⅱ类医疗器械注册证", "第二类医疗器械注册证"),
        ("2类医疗器械", "第二类医疗器械"),
        ("第二类医疗器械", "第二类医疗器械"),  # already official: not 第第二类
        ("营业执照换法人代表！", "营业执照换法定代表人"),
        ("执照", "营业执照"),
        ("营业证", "营业执照"),
        ("社保开户", "社会保险开户"),
        ("公积金", "住房公积金"),
        ("住房公积金", "住房公积金"),
        ("排污证到期了？", "排污许可证到期了"),
        ("数电票", "数字化电子发票"),
        ("个体户注销", "个体工商户注销"),
        ("二类备案证", "第二类备案凭证"),
        ("非法人组织", "非法人组织"),  # not a legal representative
        ("ＡＢＣ　１２３", "abc123"),
        ("😀 hello, world!", "helloworld"),
        ("", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_colloquial_variants_normalise_back_to_the_phrase() -> None:
    variants = colloquial_variants("第二类医疗器械经营备案变更")
    assert variants[0] == "第二类医疗器械经营备案变更"
    assert "二类医疗器械经营备案变更" in variants
    assert "二类械经营备案变更" in variants
    assert {normalise(v) for v in variants} == {"第二类医疗器械经营备案变更"}
    assert colloquial_variants("排污许可证延续") == ["排污许可证延续", "排污证延续"]
    # 器械 alone (no class) does not normalise back, so no such variant is offered
    assert colloquial_variants("医疗器械生产许可证") == ["医疗器械生产许可证"]


def test_tokenizer_with_words_is_private() -> None:
    word = "吹哨测试专用词甲乙"
    private = tokenizer_with_words([(word, 50000)])
    other = tokenizer_with_words([])
    assert private.lcut(word, HMM=False) == [word]
    assert other.lcut(word, HMM=False) != [word]


def test_tokenize_has_words_and_prefixed_ngrams() -> None:
    tokens = tokenize(tokenizer_with_words([]), normalise("社保开户"), (2, 3))
    assert "2:社会" in tokens and "3:社会保" in tokens and "2:开户" in tokens
    assert "社会保险" in tokens  # a jieba word of the main dictionary
