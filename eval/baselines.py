"""The two baselines Chuishao is compared with, over the same questions.

(a) BM25 alone: bm25s over each procedure's name + aliases (one document per procedure), the
    question tokenised whole with jieba as Rasa's ``JiebaTokenizer`` does (default mode, the knowledge
    base's user dictionary from ``build/knowledge/jieba`` when it has been built). No other signal.
    Fixed no-match rule: the best score is <= 0 (no query token occurs in any procedure's text).
    The top-3 metric uses the three best positive-scoring procedures.
(b) DIET alone: a separate Rasa NLU model whose intents are the procedure ids, trained on each
    procedure's name + aliases (JiebaTokenizer, CountVectorsFeaturizer word and char_wb 1-3,
    DIETClassifier, FallbackClassifier 0.4). ``nlu_fallback`` means no match; the top-3 metric uses
    the intent ranking.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from eval.data import JIEBA_DICT_DIR
from eval.load import rasa_env
from eval.metrics import ANSWER, NONE, Prediction

logger = logging.getLogger(__name__)

FALLBACK_INTENT = "nlu_fallback"
FALLBACK_THRESHOLD = 0.4


def _is_word(token: str) -> bool:
    """False for whitespace and punctuation-only tokens."""
    return any(not unicodedata.category(ch).startswith(("P", "Z", "S", "C")) for ch in token)


class JiebaTokens:
    """jieba as Rasa's JiebaTokenizer uses it, with the knowledge base's user dictionaries if built."""

    description = "jieba default mode as Rasa's JiebaTokenizer, build/knowledge/jieba user dictionary"

    def __init__(self, dictionary_dir: Path | None = JIEBA_DICT_DIR) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._tokenizer = jieba.Tokenizer()
        has_dir = dictionary_dir is not None and dictionary_dir.is_dir()
        self.dictionaries = sorted(dictionary_dir.glob("*")) if has_dir else []
        for path in self.dictionaries:
            self._tokenizer.load_userdict(str(path))

    def __call__(self, text: str) -> list[str]:
        return [word.lower() for word, _, _ in self._tokenizer.tokenize(text) if _is_word(word)]


class KnowledgeTokens:
    """The knowledge library's own query tokenisation (``knowledge.text``): normalise (width, case,
    colloquial -> official words), then jieba words with the base's terms plus character n-grams, as
    the retriever tokenises its documents and queries. Raises if the library or the base cannot load."""

    description = "knowledge.text: normalise + jieba words (base terms) + char n-grams, as the retriever"

    def __init__(self) -> None:
        from knowledge import KnowledgeBase
        from knowledge.index import NGRAMS, make_tokenizer
        from knowledge.text import normalise, tokenize

        self._tokenizer = make_tokenizer(KnowledgeBase.load())
        self._tokenize, self._normalise, self._ngrams = tokenize, normalise, NGRAMS
        self.dictionaries: list[Path] = []

    def __call__(self, text: str) -> list[str]:
        return self._tokenize(self._tokenizer, self._normalise(text), self._ngrams)


def best_tokens() -> tuple[JiebaTokens | KnowledgeTokens, str]:
    """Chuishao's retrieval tokenisation when the knowledge library loads, else Rasa's plain jieba."""
    try:
        tokens = KnowledgeTokens()
    except Exception as exc:  # noqa: BLE001 - any failure of the library means: fall back, and say so
        logger.warning("BM25 baseline: knowledge library unavailable (%s); using plain jieba", exc)
        return JiebaTokens(), f"{JiebaTokens.description} (knowledge library failed: {type(exc).__name__})"
    return tokens, KnowledgeTokens.description


class Bm25Baseline:
    name = "bm25"

    def __init__(self, procedure_texts: dict[str, list[str]],
                 tokenize: Callable[[str], list[str]] | None = None) -> None:
        import bm25s

        if not procedure_texts:
            raise ValueError("no procedures to index")
        self.tokenize = tokenize or JiebaTokens()
        self.ids = list(procedure_texts)
        corpus = [self.tokenize(" ".join(texts)) or [""] for texts in procedure_texts.values()]
        self._bm25 = bm25s.BM25()
        self._bm25.index(corpus, show_progress=False)

    def predict(self, text: str, k: int = 3) -> Prediction:
        tokens = self.tokenize(text)
        scores = self._bm25.get_scores(tokens) if tokens else [0.0] * len(self.ids)
        ranked = sorted(range(len(self.ids)), key=lambda i: -float(scores[i]))
        positive = [self.ids[i] for i in ranked[:k] if float(scores[i]) > 0]
        if not positive:
            return Prediction(kind=NONE, note="best BM25 score <= 0")
        return Prediction(kind=ANSWER, procedure=positive[0], candidates=tuple(positive[1:]),
                          note=f"score={float(scores[ranked[0]]):.3f}")


def diet_config(epochs: int, dictionary_dir: Path | None) -> dict:
    tokenizer: dict = {"name": "JiebaTokenizer"}
    if dictionary_dir is not None and dictionary_dir.is_dir() and any(dictionary_dir.iterdir()):
        tokenizer["dictionary_path"] = str(dictionary_dir)
    return {
        "recipe": "default.v1",
        "assistant_id": "chuishao-eval-diet-baseline",
        "language": "zh",
        "pipeline": [
            tokenizer,
            {"name": "CountVectorsFeaturizer"},
            {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 3},
            {"name": "DIETClassifier", "epochs": epochs, "entity_recognition": False,
             "constrain_similarities": True, "random_seed": 42},
            {"name": "FallbackClassifier", "threshold": FALLBACK_THRESHOLD},
        ],
        "policies": [],
    }


def diet_nlu_data(procedure_texts: dict[str, list[str]]) -> dict:
    """One intent per procedure id; ASCII brackets are swapped so Rasa never reads an entity annotation."""
    table = str.maketrans({"[": "【", "]": "】"})
    return {
        "version": "3.1",
        "nlu": [
            {"intent": pid, "examples": "".join(f"- {t.translate(table)}\n" for t in dict.fromkeys(texts))}
            for pid, texts in procedure_texts.items()
        ],
    }


@dataclass
class TrainedModel:
    path: Path
    seconds: float


def train_diet(procedure_texts: dict[str, list[str]], workdir: Path, epochs: int = 100,
               dictionary_dir: Path | None = JIEBA_DICT_DIR, timeout: float = 1800) -> TrainedModel:
    """``rasa train nlu`` into ``workdir``; raises RuntimeError with the log tail when it fails."""
    workdir.mkdir(parents=True, exist_ok=True)
    config, nlu = workdir / "config.yml", workdir / "nlu.yml"
    config.write_text(yaml.safe_dump(diet_config(epochs, dictionary_dir), allow_unicode=True),
                      encoding="utf-8")
    nlu.write_text(yaml.safe_dump(diet_nlu_data(procedure_texts), allow_unicode=True, sort_keys=False),
                   encoding="utf-8")
    command = [sys.executable, "-m", "rasa", "train", "nlu", "--config", str(config), "--nlu", str(nlu),
               "--out", str(workdir / "models"), "--fixed-model-name", "diet-baseline"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=timeout,
                          env=rasa_env())
    seconds = time.perf_counter() - started
    model = workdir / "models" / "diet-baseline.tar.gz"
    if done.returncode != 0 or not model.exists():
        tail = (done.stdout + done.stderr)[-2000:]
        raise RuntimeError(f"rasa train nlu failed (exit {done.returncode}):\n{tail}")
    return TrainedModel(path=model, seconds=seconds)


class DietBaseline:
    name = "diet"

    def __init__(self, agent) -> None:
        self._agent = agent

    @classmethod
    def load(cls, model_path: Path) -> DietBaseline:
        from rasa.core.agent import Agent
        from rasa.utils.log_utils import configure_structlog

        configure_structlog(logging.WARNING)  # else every parse is logged at debug level
        return cls(Agent.load(str(model_path)))

    @staticmethod
    def to_prediction(parsed: dict, k: int = 3) -> Prediction:
        intent = (parsed.get("intent") or {}).get("name")
        ranking = [r["name"] for r in parsed.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT]
        if not intent or intent == FALLBACK_INTENT:
            return Prediction(kind=NONE, note="nlu_fallback")
        others = tuple(r for r in ranking if r != intent)[: k - 1]
        confidence = (parsed.get("intent") or {}).get("confidence")
        return Prediction(kind=ANSWER, procedure=intent, candidates=others, note=f"confidence={confidence}")

    def predict_all(self, texts: Sequence[str]) -> list[Prediction]:
        async def parse_all() -> list[dict]:
            return [await self._agent.parse_message(text) for text in texts]

        return [self.to_prediction(parsed) for parsed in asyncio.run(parse_all())]
