"""Chuishao's knowledge base: load and validate the YAML data, index it, and search it.

Imports are lazy (PEP 562) so that `import knowledge` stays cheap; jieba, bm25s and numpy load only
when a retriever is used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "KnowledgeBase": "knowledge.loader",
    "KnowledgeError": "knowledge.loader",
    "Problem": "knowledge.loader",
    "Retriever": "knowledge.retriever",
    "SearchResult": "knowledge.retriever",
    "Candidate": "knowledge.retriever",
    "Procedure": "knowledge.schema",
    "Department": "knowledge.schema",
}

__all__ = [
    "Candidate",
    "Department",
    "KnowledgeBase",
    "KnowledgeError",
    "Problem",
    "Procedure",
    "Retriever",
    "SearchResult",
]

if TYPE_CHECKING:
    from knowledge.loader import KnowledgeBase, KnowledgeError, Problem
    from knowledge.retriever import Candidate, Retriever, SearchResult
    from knowledge.schema import Department, Procedure


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'knowledge' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
