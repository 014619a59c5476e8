"""KnowledgeIntentGuard: a procedure question that DIET mistook for small talk still reaches the base.

DIET learns greet/deny/goodbye/... from a few hundred short examples, and a message made of words it
has never seen ("压力容器使用登记") can land on one of them with high confidence. Those intents never
run `action_answer_procedure`, so the knowledge base is never asked. This component runs after the
intent classifier, the entity extractors and the FallbackClassifier and relabels such a message as a
procedure question when both hold:

- the message names a procedure: the spaCy entity ruler tagged a procedure or licence, or the
  retriever answers it outright with a score of at least `min_score` (not for out_of_scope: the
  classifier has seen the kinds of requests we do not handle, and the retriever can find a near
  neighbour for any of them, "户口迁移" for 住所变更; only a name the base knows overrides it);
- the message has none of the words that make its predicted intent what it is (a deny says 不用/算了/
  取消, a thank says 谢, a complaint says 投诉/刁难 ...): "不用了" inside the handoff form, "谢谢，营业执照
  办好了" or "我要投诉，营业执照办了一个月" keep their intent.

A complaint or a request for a human (both start the handoff) is relabelled only below
`max_unsure_confidence` and without words such as 投诉/刁难 or 人工/工作人员/吹哨: a confident one is
one. The new intent is the best-ranked ask_* intent in DIET's ranking (so "…要什么材料" becomes
ask_materials), or ask_procedure. Intents that steer a form or a ticket (inform, cancel, affirm,
check_ticket) are never touched, and neither is nlu_fallback, which already reaches the base.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

if TYPE_CHECKING:
    from knowledge import Retriever

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROCEDURE_ENTITIES = frozenset({"procedure", "licence"})
# Entities the retriever reads (the action passes the same ones).
SEARCH_ENTITIES = frozenset({"procedure", "licence", "department"})
FALLBACK_INTENT = "ask_procedure"

# The words without which a message is not what its intent says. A message with one of them keeps its
# intent whatever else it names.
INTENT_CUES: dict[str, re.Pattern[str]] = {
    "deny": re.compile(
        r"^\s*(?:不|没|别|否|no\b|nope)|不用|不要|不需要|不必|不了|算了|取消|没有|不是|不对|不行|拒绝|免了",
        re.IGNORECASE,
    ),
    "goodbye": re.compile(r"再见|拜拜|拜了|bye|回见|回头见|先这样|下次|走了|下线|晚安", re.IGNORECASE),
    "greet": re.compile(
        r"你好|您好|hello|\bhi\b|嗨|哈喽|早上好|上午好|下午好|晚上好|在吗|在不在|在么", re.IGNORECASE
    ),
    "thank": re.compile(r"谢|感谢|多谢|辛苦|感恩|thank|thx", re.IGNORECASE),
    "bot_challenge": re.compile(r"机器人|人工智能|真人|\bai\b|你是谁|你是人|程序", re.IGNORECASE),
    "out_of_scope": re.compile(r"天气|笑话|唱歌|彩票|股票|吃饭|电影|游戏|聊天", re.IGNORECASE),
    "complain": re.compile(
        r"投诉|举报|不满|太慢|刁难|为难|态度|差评|拖延|拖着|推诿|踢皮球|乱收费|不作为|不办|不给办|不理|"
        r"气死|生气|什么破|垃圾|没人管|没人接|太差|离谱|忽悠",
    ),
    "request_human": re.compile(
        r"人工|客服|工作人员|真人|吹哨|转接|转给|找人|找个人|打电话|联系|对接|专人|上门|帮我办|代办|帮忙办"
    ),
}
GUARDED_INTENTS = frozenset(INTENT_CUES)
# Intents that start the handoff: a confident prediction is one, whatever the message names.
UNSURE_ONLY_INTENTS = frozenset({"complain", "request_human"})
# Intents overridden only by a name the entity ruler knows, not by a retriever match.
NAME_ONLY_INTENTS = frozenset({"out_of_scope"})


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class KnowledgeIntentGuard(GraphComponent):
    """Relabels small-talk intents of messages that name a procedure (see the module docstring)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "min_score": 0.5,  # the retriever's calibrated score that counts as naming a procedure
            "max_unsure_confidence": 0.7,  # complain / request_human above this are left alone
            "knowledge_dir": None,  # None: the knowledge library's default (knowledge/data)
            "index_dir": "build/knowledge/index",
        }

    def __init__(self, config: dict[str, Any]) -> None:
        self.min_score = float(config["min_score"])
        self.max_unsure_confidence = float(config["max_unsure_confidence"])
        self.knowledge_dir = _resolve(config["knowledge_dir"]) if config.get("knowledge_dir") else None
        self.index_dir = _resolve(config["index_dir"])
        self._retriever: Retriever | None = None
        self._lock = threading.Lock()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> KnowledgeIntentGuard:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            try:
                self._guard(message)
            except Exception:  # a broken knowledge base must not break understanding
                logger.exception("intent guard failed for %r", message.get(TEXT))
        return messages

    # --- deciding --------------------------------------------------------------------------------

    def _guard(self, message: Message) -> None:
        intent = message.get(INTENT) or {}
        name, confidence = intent.get("name"), float(intent.get("confidence") or 0.0)
        text = message.get(TEXT) or ""
        if name not in GUARDED_INTENTS or not text.strip() or text.startswith("/"):
            return
        if name in UNSURE_ONLY_INTENTS and confidence >= self.max_unsure_confidence:
            return
        if INTENT_CUES[name].search(text):
            return
        entities = [e for e in message.get(ENTITIES) or [] if isinstance(e, dict)]
        if not self._names_procedure(text, entities, use_retriever=name not in NAME_ONLY_INTENTS):
            return
        ranking = list(message.get(INTENT_RANKING_KEY) or [])
        asked = next(
            (r["name"] for r in ranking if str(r.get("name", "")).startswith("ask_")), FALLBACK_INTENT
        )
        logger.debug("intent guard: %r %s(%.2f) -> %s", text, name, confidence, asked)
        message.set(INTENT, {"name": asked, "confidence": confidence}, add_to_output=True)
        rest = [r for r in ranking if r.get("name") != asked]
        ranked = [{"name": asked, "confidence": confidence}, *rest]
        message.set(INTENT_RANKING_KEY, ranked, add_to_output=True)

    def _names_procedure(self, text: str, entities: list[dict[str, Any]], use_retriever: bool) -> bool:
        if any(e.get("entity") in PROCEDURE_ENTITIES for e in entities):
            return True
        if not use_retriever:
            return False
        hints = [e for e in entities if e.get("entity") in SEARCH_ENTITIES]
        result = self.retriever.search(text, entities=hints)
        best = result.best
        return result.decision == "answer" and best is not None and best.score >= self.min_score

    @property
    def retriever(self) -> Retriever:
        """Loaded on the first guarded message (most messages never need it), once per process."""
        if self._retriever is None:
            with self._lock:
                if self._retriever is None:
                    self._retriever = self._load()
        return self._retriever

    def _load(self) -> Retriever:
        from knowledge import KnowledgeBase, Retriever

        kb = KnowledgeBase.load(self.knowledge_dir)
        if self.index_dir.is_dir():
            return Retriever.load(self.index_dir, kb)  # rebuilds a stale index in memory
        return Retriever.build(kb)


def _resolve(path: str) -> Path:
    """Relative paths are relative to the project root, wherever Rasa was started."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else PROJECT_ROOT / p
