"""The action server's access to the knowledge base and its retriever.

Loading parses every YAML file and reads (or builds) the bm25 index, so it is done lazily, once per
process, on the first question, never at import time.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the knowledge package is imported only when the client loads
    from knowledge import Department, KnowledgeBase, Procedure, Retriever, SearchResult

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_INDEX_DIR = "build/knowledge/index"


def _resolve(path: str | os.PathLike[str]) -> Path:
    """Relative paths are relative to the project root, wherever the action server was started."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else PROJECT_ROOT / p


@dataclass(frozen=True)
class KnowledgeSettings:
    """Where the knowledge data and the prebuilt index live.

    `knowledge_dir` None means the library's default root (knowledge/data).
    """

    knowledge_dir: Path | None = None
    index_dir: Path = PROJECT_ROOT / DEFAULT_INDEX_DIR

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KnowledgeSettings:
        env = os.environ if environ is None else environ
        knowledge_dir = env.get("KNOWLEDGE_DIR") or None
        return cls(
            knowledge_dir=_resolve(knowledge_dir) if knowledge_dir else None,
            index_dir=_resolve(env.get("KNOWLEDGE_INDEX_DIR") or DEFAULT_INDEX_DIR),
        )


class KnowledgeUnavailable(RuntimeError):
    """The knowledge base or its index could not be loaded."""


class KnowledgeClient:
    """Owns one KnowledgeBase and its Retriever; loads them on first use, thread-safely."""

    def __init__(self, settings: KnowledgeSettings | None = None) -> None:
        self.settings = settings or KnowledgeSettings.from_env()
        self._kb: KnowledgeBase | None = None
        self._retriever: Retriever | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._retriever is not None

    def load(self) -> None:
        """Load the base and retriever if not done yet. Raises KnowledgeUnavailable on failure.

        A failure is not cached: the next call tries again, so a fixed data directory recovers
        without restarting the action server.
        """
        if self._retriever is not None:
            return
        with self._lock:
            if self._retriever is not None:
                return
            started = time.perf_counter()
            try:
                kb, retriever = self._load()
            except Exception as exc:
                raise KnowledgeUnavailable(f"knowledge base could not be loaded: {exc}") from exc
            self._kb, self._retriever = kb, retriever
            logger.info(
                "Knowledge base loaded: %d procedures, %d departments in %.2fs",
                len(kb.procedures),
                len(kb.departments),
                time.perf_counter() - started,
            )

    def _load(self) -> tuple[KnowledgeBase, Retriever]:
        from knowledge import KnowledgeBase, Retriever

        kb = KnowledgeBase.load(self.settings.knowledge_dir)
        index_dir = self.settings.index_dir
        if not index_dir.is_dir():
            logger.info("No index at %s; building it in memory", index_dir)
            return kb, Retriever.build(kb)
        try:
            # Retriever.load compares the index with the data's fingerprint and rebuilds a stale one.
            return kb, Retriever.load(index_dir, kb)
        except Exception:
            logger.warning("Index at %s unreadable; building it in memory", index_dir, exc_info=True)
            return kb, Retriever.build(kb)

    @property
    def kb(self) -> KnowledgeBase:
        self.load()
        assert self._kb is not None
        return self._kb

    @property
    def retriever(self) -> Retriever:
        self.load()
        assert self._retriever is not None
        return self._retriever

    def search(
        self,
        text: str,
        *,
        action: str | None = None,
        change_item: str | None = None,
        entities: Sequence[dict[str, Any]] | None = None,
        exclude: Iterable[str] = (),
        top_k: int = 5,
    ) -> SearchResult:
        return self.retriever.search(
            text,
            action=action,
            change_item=change_item,
            entities=list(entities) if entities else None,
            exclude=tuple(exclude),
            top_k=top_k,
        )

    def procedure(self, procedure_id: str | None) -> Procedure | None:
        """The procedure with this id, or None when the id is empty or unknown (e.g. a stale slot)."""
        if not procedure_id:
            return None
        return self.kb.procedures.get(procedure_id)

    def department_of(self, procedure: Procedure) -> Department | None:
        try:
            return self.kb.department_of(procedure)
        except KeyError:
            return None

    def department(self, code: str | None) -> Department | None:
        if not code:
            return None
        return self.kb.departments.get(code)


_default_client: KnowledgeClient | None = None
_default_client_lock = threading.Lock()


def warm_up_in_background(client: KnowledgeClient) -> threading.Thread:
    """Load the knowledge base in a daemon thread, so the first user does not wait for it.

    The action server registers (instantiates) the actions at start-up; loading there keeps the first
    answer well inside Rasa's action timeout. A failure is only logged: the next question retries.
    """

    def load() -> None:
        try:
            client.load()
        except Exception:  # reported; the first question retries
            logger.exception("Warming up the knowledge base failed; the first question will retry")

    thread = threading.Thread(target=load, name="knowledge-warm-up", daemon=True)
    thread.start()
    return thread


def get_knowledge_client() -> KnowledgeClient:
    """The process-wide client the actions share (created on first call; loaded on first search)."""
    global _default_client
    if _default_client is None:
        with _default_client_lock:
            if _default_client is None:
                _default_client = KnowledgeClient(KnowledgeSettings.from_env())
    return _default_client
