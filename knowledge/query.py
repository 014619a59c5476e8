"""What a user's message says beyond its words: the action, change items, device class, and whether
anything in it actually picks out a procedure ("我想变更法人" does not: it fits five of them)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import jieba

from knowledge.text import normalise

# Longer messages are cut: nobody names a procedure after the 200th character, and it keeps a
# pasted document from costing more than a normal question.
MAX_QUERY_CHARS = 200

# Actions in priority order: the first group with a word in the message wins ("到期换证" is 延续,
# "申请变更" is 变更). Weak words say little on their own (申请 also precedes 变更/延续).
ACTION_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("注销", ("注销",)),
    ("延续", ("延续", "续期", "续证", "续展", "到期", "过期")),
    ("补办", ("补办", "补发", "补证", "遗失", "丢失", "丢了", "损毁")),
    ("变更", ("变更", "更改", "更换", "更名", "改", "换", "迁", "搬")),
    ("新办", ("新办", "首次", "新开", "开办", "设立", "开户", "申领", "申请", "办理", "开")),
)
ACTIONS = frozenset(action for action, _ in ACTION_WORDS)
WEAK_ACTION_WORDS = frozenset({"申请", "办理", "开", "申领"})
WEAK_ACTION_STRENGTH = 0.5

# Colloquial words for change items -> the items (as the knowledge base names them) they may mean.
CHANGE_ITEM_WORDS: dict[str, tuple[str, ...]] = {
    "地址": ("住所", "经营场所", "库房地址", "生产地址"),
    "搬": ("住所", "经营场所", "库房地址", "生产地址"),
    "迁": ("住所", "经营场所", "库房地址", "生产地址"),
    "仓库": ("库房地址",),
    "库房": ("库房地址",),
    "名字": ("名称",),
    "改名": ("名称",),
    "更名": ("名称",),
    "增资": ("注册资本",),
    "减资": ("注册资本",),
    "注册资金": ("注册资本",),
    "范围": ("经营范围", "生产范围"),
    "负责人": ("企业负责人",),
}

CLASS_WORDS = ("第一类", "第二类", "第三类")

# Words that never pick out a procedure: greetings, pronouns, question words and the aspect words
# that the NLU intent already carries (材料, 流程, 多久, 费用 ...). Matched as whole jieba words.
_FILLER_WORDS = """
    我 我们 我司 咱 咱们 你 你们 您 他 她 它 想 想要 要 需要 请问 问 问下 问一下 一下 咨询 了解 你好 您好
    谢谢 麻烦 怎么 怎么样 怎样 如何 怎么办 怎么弄 怎么搞 咋 咋办 咋整 咋弄 弄 搞 办 去 在 哪 哪里 哪儿
    哪个 哪些 什么 啥 多少 多久
    多长时间 几天 时间 时限 期限 材料 资料 手续 流程 步骤 条件 费用 收费 钱 多少钱 免费 地点 地方 窗口
    电话 网上 线上 在线 可以 能 能否 是否 吗 呢 吧 啊 呀 哦 嗯 了 的 得 地 是 有 没有 还 和 与 及 或 给 把
    被 对 这个 那个 这 那 一个 个 该 应该 需 必须 现在 已经 刚 刚刚 准备 打算 如果 的话 就 都 也 又 再 谁
    找 找谁 部门 什么时候 要求 规定 相关 情况 事情 问题 办事 这边 那边 具体 所有 其他
    带 拿 交 提交 递交 准备 管 负责 依据 法律依据 根据 办好 办完 下来 收 付 交钱 得 多 长 久
"""
FILLERS = frozenset(_FILLER_WORDS.split())

GENERIC_MAX_CHARS = 1  # a residual this short names nothing

# A certificate named in the message: the words before 许可证/执照/许可/证 ("采矿许可证" -> "采矿"). A
# candidate about another certificate is unlikely to be meant ("营业性演出许可证" is not the 排污许可证).
# Supporting papers (身份证, 证明, 认证, 保证) are not certificates that name a procedure.
_LICENCE_SUFFIX = re.compile(r"许可证|执照|许可|(?<!身份)(?<![认验保论])证(?![明件据书实券])")
_LICENCE_CORE_CHARS = 4  # at most this many characters before the suffix ...
# ... and none from before the last of these: verbs, particles, measure words, another certificate.
_LICENCE_CORE_STOP = re.compile(
    r".*(?:办|要|的|个|是|了|吗|请|问|申|领|怎|么|什|啥|哪|张|本|拿|考|和|与|及|或|还|把|给|在|做|有|需|该|这|那"
    r"|证|照|可|换|改|变|续|期|补|销)"
)


@dataclass(frozen=True)
class Query:
    """A message, normalised and read for the signals the retriever uses."""

    text: str
    normalised: str  # truncated to MAX_QUERY_CHARS
    content: str  # without filler words
    residual: str  # content without action, change-item words: what could name a procedure
    action: str | None
    action_strength: float  # 1 explicit or clear word, WEAK_ACTION_STRENGTH for 申请/办理/开
    action_words: tuple[str, ...]  # the action words found in the message
    change_items: frozenset[str]  # normalised items, e.g. {"法定代表人"}
    classes: frozenset[str]  # 第一类/第二类/第三类 named in the message
    licence_cores: tuple[str, ...] = ()  # what names each certificate in the message ("采矿许可证" -> "采矿")

    @property
    def names_nothing(self) -> bool:
        """Only filler and aspect words ("要带什么材料", "哪个部门管"): no evidence for any procedure."""
        named = self.action or self.change_items or self.classes
        return len(self.residual) <= GENERIC_MAX_CHARS and not named

    @property
    def generic(self) -> bool:
        """Nothing but an action and/or change item ("我想变更法人", "怎么注销")."""
        return len(self.residual) <= GENERIC_MAX_CHARS and bool(self.action or self.change_items)


def understand(
    text: str,
    tokenizer: jieba.Tokenizer,
    known_change_items: Iterable[str],
    action: str | None = None,
    change_item: str | None = None,
) -> Query:
    """Read `text`; an `action` from the NLU fills in when the words name none, a `change_item` adds."""
    # Cut before normalising too (it drops punctuation and spaces, hence the slack): a pasted megabyte
    # costs no more than a long question.
    normalised = normalise(text[: MAX_QUERY_CHARS * 4])[:MAX_QUERY_CHARS]
    content = "".join(w for w in tokenizer.lcut(normalised, HMM=False) if w not in FILLERS)

    # Actions are read from the whole message: 办/开 are fillers for the content, not for "新办".
    found_action, strength, action_words = _detect_action(normalised)
    items, item_words = _detect_change_items(content, known_change_items)
    if change_item:
        items.add(normalise(change_item))
    action = _canonical_action(action)
    if action and found_action is None:
        # The words win over the NLU's entity: DIET's action entity is a guess learned from a few
        # hundred examples, and a wrong action costs the right candidate W_ACTION_MISMATCH.
        found_action, strength = action, 1.0
    elif found_action is None and items:
        found_action, strength = "变更", WEAK_ACTION_STRENGTH  # "二类备案凭证地址" implies a change

    residual = content
    for word in sorted({*action_words, *item_words}, key=len, reverse=True):
        residual = residual.replace(word, "")
    return Query(
        text=text,
        normalised=normalised,
        content=content,
        residual=residual,
        action=found_action,
        action_strength=strength,
        action_words=tuple(action_words),
        change_items=frozenset(items),
        classes=frozenset(c for c in CLASS_WORDS if c in normalised),
        licence_cores=licence_cores(normalised),
    )


def licence_cores(normalised: str) -> tuple[str, ...]:
    """The words naming each certificate in the message, two characters or more, in order."""
    cores = []
    for match in _LICENCE_SUFFIX.finditer(normalised):
        before = normalised[max(0, match.start() - _LICENCE_CORE_CHARS):match.start()]
        core = _LICENCE_CORE_STOP.sub("", before)
        if len(core) >= 2:
            cores.append(core)
    return tuple(dict.fromkeys(cores))


def _canonical_action(value: str | None) -> str | None:
    """The NLU's action entity as the knowledge base names actions ("换" -> 变更, "续" -> 延续), or
    None when it names none: an unknown action would count against every procedure."""
    if not value:
        return None
    if value in ACTIONS:
        return value
    found, _, _ = _detect_action(value)
    return found or ("延续" if "续" in value else None)


def _detect_action(text: str) -> tuple[str | None, float, list[str]]:
    every = [w for _, ws in ACTION_WORDS for w in ws if w in text]
    for action, action_words in ACTION_WORDS:
        present = [w for w in action_words if w in text]
        if present:
            strength = WEAK_ACTION_STRENGTH if set(present) <= WEAK_ACTION_WORDS else 1.0
            return action, strength, every
    return None, 0.0, every


def _detect_change_items(content: str, known: Iterable[str]) -> tuple[set[str], list[str]]:
    items: set[str] = set()
    words: list[str] = []
    for item in known:
        if item and item in content:
            items.add(item)
            words.append(item)
    for word, meant in CHANGE_ITEM_WORDS.items():
        if word in content:
            items.update(meant)
            words.append(word)
    return items, words
