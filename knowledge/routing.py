"""DepartmentRouter: which department a free-text problem belongs to, for the ticket handoff.

In order:
1. the procedure in context: its department;
2. departments the message names ("找人社局的人"): that one; several named at once is a
   cross-department case;
3. a confident retriever answer: the department of that procedure;
4. a classifier: BM25 over one document per department, built from its names, duties and the names,
   aliases and licences of its procedures. A weak best score, or a runner-up close to it, means the
   case is unclear or spans departments.
Unclear and cross-department cases go to the 吹哨 office (`hz-chuishao`), which dispatches them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import bm25s

from knowledge.index import make_tokenizer
from knowledge.text import normalise, tokenize, words
from knowledge.vocabulary import department_phrases

if TYPE_CHECKING:
    import jieba

    from knowledge.loader import KnowledgeBase
    from knowledge.retriever import Retriever

logger = logging.getLogger(__name__)

CHUISHAO_OFFICE = "hz-chuishao"
NGRAMS = (2, 3)
# Below this BM25 score the best department shares too little with the message to be trusted.
MIN_SCORE = 4.0
# A runner-up at this fraction of the best score or above: the message fits two departments.
CLOSE_RATIO = 0.8
# A retriever answer at least this confident names the procedure, so its department.
RETRIEVER_MIN_SCORE = 0.6
MAX_CANDIDATES = 4

# How many times each part of a department's document is repeated.
WEIGHTS = {"names": 2, "duties": 2, "procedures": 1}


@dataclass(frozen=True)
class Routing:
    """`department` is where the ticket goes; `candidates` (best first, `department` first) are the
    choices to offer the user for a correction; `reason` says how it was decided."""

    department: str
    reason: str  # "procedure" | "named" | "matched" | "classifier" | "unclear"
    candidates: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def unclear(self) -> bool:
        return self.reason == "unclear"


class DepartmentRouter:
    def __init__(
        self,
        kb: KnowledgeBase,
        codes: Sequence[str],
        bm25: bm25s.BM25 | None,
        vocab: dict[str, int],
        tokenizer: jieba.Tokenizer,
        retriever: Retriever | None = None,
        office: str = CHUISHAO_OFFICE,
    ) -> None:
        self.kb = kb
        self.codes = list(codes)
        self.bm25 = bm25
        self.vocab = vocab
        self.tokenizer = tokenizer
        self.retriever = retriever
        self.office = office
        self._phrases = sorted(
            (
                (normalise(phrase), code)
                for phrase, code in department_phrases(kb)
                if len(normalise(phrase)) > 1
            ),
            key=lambda pc: -len(pc[0]),
        )

    @classmethod
    def build(
        cls, kb: KnowledgeBase, retriever: Retriever | None = None, office: str = CHUISHAO_OFFICE
    ) -> DepartmentRouter:
        """Index every department but the office (the office is where unclear cases go, not a match)."""
        tokenizer = retriever.index.tokenizer if retriever is not None else make_tokenizer(kb)
        codes = sorted(code for code in kb.departments if code != office)
        documents: dict[str, list[str]] = {code: [] for code in codes}
        for code in codes:
            department = kb.departments[code]
            for text in (department.name, department.short_name, *department.aliases):
                documents[code] += tokenize(tokenizer, normalise(text), NGRAMS) * WEIGHTS["names"]
            for duty in department.duties:
                documents[code] += tokenize(tokenizer, normalise(duty), NGRAMS) * WEIGHTS["duties"]
        for procedure in kb.procedures.values():
            if procedure.department not in documents:
                continue
            for text in (procedure.name, *procedure.aliases, procedure.licence or ""):
                if text:
                    documents[procedure.department] += tokenize(tokenizer, normalise(text), NGRAMS)
        vocab: dict[str, int] = {}
        corpus = [[vocab.setdefault(token, len(vocab)) for token in documents[code]] for code in codes]
        bm25 = None
        if vocab:
            bm25 = bm25s.BM25()
            bm25.index((corpus, vocab), create_empty_token=False, show_progress=False)
        return cls(kb, codes, bm25, vocab, tokenizer, retriever, office)

    # --- routing ---------------------------------------------------------------------------------

    def route(self, text: str, procedure_id: str | None = None) -> Routing:
        procedure = self.kb.procedures.get(procedure_id) if procedure_id else None
        scores = self.scores(text)
        ranked = [
            code for code, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])) if scores[code] > 0
        ]
        if procedure is not None and procedure.department in self.kb.departments:
            return self._routing(procedure.department, "procedure", ranked, scores)

        named = self.named(text)
        if len(named) == 1:
            return self._routing(named[0], "named", ranked, scores)
        if len(named) > 1:  # "市场监管局和审批局互相推": a case between departments
            return self._routing(self.office, "unclear", [*named, *ranked], scores)

        if self.retriever is not None and text.strip():
            result = self.retriever.search(text)
            best = result.best
            if result.decision == "answer" and best is not None and best.score >= RETRIEVER_MIN_SCORE:
                return self._routing(best.procedure.department, "matched", ranked, scores)

        if not ranked:
            return self._routing(self.office, "unclear", ranked, scores)
        top = scores[ranked[0]]
        runner_up = scores[ranked[1]] if len(ranked) > 1 else 0.0
        if top < MIN_SCORE or runner_up >= CLOSE_RATIO * top:
            return self._routing(self.office, "unclear", ranked, scores)
        return self._routing(ranked[0], "classifier", ranked, scores)

    def scores(self, text: str) -> dict[str, float]:
        """BM25 score of each department's document for the message (0 for an empty message)."""
        normalised = normalise(text or "")
        if self.bm25 is None or not normalised:
            return {code: 0.0 for code in self.codes}
        ids = sorted({self.vocab[t] for t in tokenize(self.tokenizer, normalised, NGRAMS) if t in self.vocab})
        if not ids:
            return {code: 0.0 for code in self.codes}
        raw = self.bm25.get_scores_from_ids(ids)
        return {code: float(raw[i]) for i, code in enumerate(self.codes)}

    def named(self, text: str) -> list[str]:
        """Departments the message names by name, short name or alias, in order of appearance."""
        remaining = normalise(text or "")
        found: list[tuple[int, str]] = []
        for phrase, code in self._phrases:  # longest first, so 市市场监管局 wins over 市场监管局
            position = remaining.find(phrase)
            if position < 0:
                continue
            remaining = remaining.replace(phrase, "#" * len(phrase))
            if code not in (c for _, c in found):
                found.append((position, code))
        return [code for _, code in sorted(found)]

    def words(self, text: str) -> list[str]:
        return words(self.tokenizer, normalise(text))

    def _routing(self, department: str, reason: str, ranked: list[str], scores: dict[str, float]) -> Routing:
        """Candidates: the decision, the classifier's next best, and always the office last."""
        candidates: list[str] = [department]
        for code in ranked:
            if len(candidates) >= MAX_CANDIDATES - 1:
                break
            if code not in candidates and code != self.office and code in self.kb.departments:
                candidates.append(code)
        if self.office not in candidates and self.office in self.kb.departments:
            candidates.append(self.office)
        positive = {code: round(score, 3) for code, score in scores.items() if score > 0}
        return Routing(department, reason, tuple(candidates), positive)
