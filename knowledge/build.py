"""Generate build/knowledge/ from the knowledge base: jieba user dictionary, spaCy pipeline, index.

Everything is built into a staging directory first; only files whose bytes changed are copied over
(atomically), and files that are no longer produced are removed, so Make's timestamps stay meaningful
and a failed build never leaves half-written artefacts.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.loader import PACKAGE_DIR, KnowledgeBase
from knowledge.retriever import Retriever
from knowledge.spacy_model import build_pipeline, load, unrecognised_names
from knowledge.text import tokenizer_with_words
from knowledge.vocabulary import add_words, dictionary_words

DEFAULT_OUT_DIR = PACKAGE_DIR.parent / "build" / "knowledge"
USERDICT = Path("jieba") / "userdict.txt"
SPACY_DIR = Path("spacy_zh")
INDEX_DIR = Path("index")
FINGERPRINT = Path(".fingerprint")
BUILD_VERSION = "1"  # bump when the artefacts' format changes without a data change
MANAGED = (USERDICT.parent, SPACY_DIR, INDEX_DIR)  # directories this build owns


@dataclass
class BuildReport:
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    unchanged: int = 0
    unrecognised: list[str] = field(default_factory=list)  # procedure names spaCy does not tag


def write_userdict(words: dict[str, int], path: Path) -> None:
    """jieba user dictionary: `word frequency` per line, sorted for stable output."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{word} {freq}\n" for word, freq in sorted(words.items())]
    path.write_text("".join(lines), encoding="utf-8")


def build_all(kb: KnowledgeBase, out_dir: Path | str = DEFAULT_OUT_DIR) -> BuildReport:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".staging-", dir=out_dir) as tmp:
        staging = Path(tmp)
        tokenizer = tokenizer_with_words([])
        frequencies = add_words(tokenizer, dictionary_words(kb))
        write_userdict(frequencies, staging / USERDICT)

        nlp = build_pipeline(kb, tokenizer)
        nlp.to_disk(staging / SPACY_DIR)
        unrecognised = unrecognised_names(load(staging / SPACY_DIR, tokenizer), kb)

        Retriever.build(kb).save(staging / INDEX_DIR)
        (staging / FINGERPRINT).write_text(f"{BUILD_VERSION} {kb.fingerprint()}\n", encoding="utf-8")

        report = sync_tree(staging, out_dir, managed=(*MANAGED, FINGERPRINT))
    report.unrecognised = unrecognised
    return report


def sync_tree(source: Path, target: Path, managed: tuple[Path, ...]) -> BuildReport:
    """Copy changed files from `source` to `target`; delete files under `managed` that `source` lacks."""
    report = BuildReport()
    wanted = set()
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source)
        wanted.add(relative)
        destination = target / relative
        if destination.is_file() and filecmp.cmp(path, destination, shallow=False):
            report.unchanged += 1
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        temporary = destination.with_name(f".{destination.name}.tmp")
        shutil.copyfile(path, temporary)
        os.replace(temporary, destination)
        report.written.append(destination)
    for root in managed:
        base = target / root
        candidates = [base] if base.is_file() else sorted(base.rglob("*")) if base.is_dir() else []
        for path in candidates:
            if path.is_file() and path.relative_to(target) not in wanted:
                path.unlink()
                report.removed.append(path)
    return report

