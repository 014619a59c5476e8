"""Load the evaluation set and the procedures' names straight from YAML.

The procedures are read from ``knowledge/data/procedures/*.yml`` with plain ``yaml`` rather than
through the knowledge library, so the baselines and the checks work whatever state that library is in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from eval.metrics import Gold

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS_PATH = ROOT / "eval" / "questions.yml"
DIALOGUES_PATH = ROOT / "eval" / "dialogues.yml"
PROCEDURES_DIR = ROOT / "knowledge" / "data" / "procedures"
JIEBA_DICT_DIR = ROOT / "build" / "knowledge" / "jieba"

ASPECTS = (
    "overview", "materials", "steps", "time_limit", "fee", "location", "online", "legal_basis", "department",
)


class EvalDataError(ValueError):
    """The evaluation files are malformed."""


@dataclass(frozen=True)
class Dialogue:
    name: str
    turns: tuple[Gold, ...]


def _read(path: Path, key: str) -> list:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise EvalDataError(f"{path}: expected a mapping with a list under {key!r}")
    return data[key]


def _question(item: dict, where: str) -> Gold:
    if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not item["text"].strip():
        raise EvalDataError(f"{where}: every question needs a non-empty text")
    if item.get("ambiguous"):
        acceptable = item.get("acceptable")
        if "expected" in item or not isinstance(acceptable, list) or len(acceptable) < 2:
            raise EvalDataError(f"{where}: an ambiguous question has no `expected` and >= 2 `acceptable` ids")
        return Gold(text=item["text"], ambiguous=True, acceptable=tuple(acceptable))
    if "expected" not in item:
        raise EvalDataError(f"{where}: `expected` is required (an id, or null for no match)")
    if item["expected"] is not None and not isinstance(item["expected"], str):
        raise EvalDataError(f"{where}: `expected` must be a procedure id or null")
    return Gold(text=item["text"], expected=item["expected"])


def load_questions(path: Path = QUESTIONS_PATH) -> list[Gold]:
    return [_question(item, f"{path}[{i}]") for i, item in enumerate(_read(path, "questions"))]


def _turn(item: dict, where: str) -> Gold:
    if not isinstance(item, dict) or not isinstance(item.get("user"), str) or not item["user"].strip():
        raise EvalDataError(f"{where}: every turn needs a non-empty `user` text")
    if ("clarify" in item) == ("procedure" in item):
        raise EvalDataError(f"{where}: a turn states exactly one of `procedure` and `clarify`")
    aspect = item.get("aspect")
    if aspect is not None and aspect not in ASPECTS:
        raise EvalDataError(f"{where}: unknown aspect {aspect!r}")
    if "clarify" in item:
        if not isinstance(item["clarify"], list) or not item["clarify"] or aspect is not None:
            raise EvalDataError(f"{where}: `clarify` is a non-empty list of ids, without an aspect")
        return Gold(text=item["user"], ambiguous=True, acceptable=tuple(item["clarify"]))
    if item["procedure"] is None and aspect is not None:
        raise EvalDataError(f"{where}: a no-answer turn has no aspect")
    return Gold(text=item["user"], expected=item["procedure"], aspect=aspect)


def load_dialogues(path: Path = DIALOGUES_PATH) -> list[Dialogue]:
    dialogues = []
    for i, item in enumerate(_read(path, "dialogues")):
        where = f"{path}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("turns"), list) or len(item["turns"]) < 2:
            raise EvalDataError(f"{where}: a dialogue has a name and at least two turns")
        turns = tuple(_turn(t, f"{where}.turns[{j}]") for j, t in enumerate(item["turns"]))
        dialogues.append(Dialogue(name=str(item.get("name", f"dialogue {i}")), turns=turns))
    return dialogues


def load_procedure_texts(procedures_dir: Path = PROCEDURES_DIR) -> dict[str, list[str]]:
    """Each procedure's id mapped to its name followed by its aliases."""
    texts: dict[str, list[str]] = {}
    for path in sorted(procedures_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        pid = data.get("id", path.stem)
        names = [data.get("name")] + list(data.get("aliases") or [])
        texts[pid] = [str(n).strip() for n in names if n and str(n).strip()]
    return texts


def labels_used(questions: list[Gold], dialogues: list[Dialogue] = ()) -> set[str]:
    golds = list(questions) + [t for d in dialogues for t in d.turns]
    ids = {g.expected for g in golds if g.expected}
    ids.update(i for g in golds for i in g.acceptable)
    return ids


def spread_sample(items: list, limit: int | None) -> list:
    """At most ``limit`` items, evenly spaced, so a short run still covers the whole file."""
    if limit is None or limit >= len(items):
        return list(items)
    if limit <= 0:
        return []
    step = len(items) / limit
    return [items[math.floor(i * step)] for i in range(limit)]
