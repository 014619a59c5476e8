"""Load and validate the knowledge base: departments.yml plus one YAML file per procedure.

`KnowledgeBase.load` never stops at the first broken entry: it collects every problem (file, field,
reason) and raises one `KnowledgeError` listing them all, so `python -m knowledge validate` shows the
whole picture in one run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from pydantic import ValidationError

from knowledge.schema import Department, Procedure
from knowledge.text import normalise

PACKAGE_DIR = Path(__file__).resolve().parent
ENV_VAR = "KNOWLEDGE_DIR"
DEPARTMENTS_FILE = "departments.yml"
PROCEDURES_DIR = "procedures"
CHINA_TZ = dt.timezone(dt.timedelta(hours=8))  # no daylight saving in China


def default_root() -> Path:
    """$KNOWLEDGE_DIR if set, else knowledge/data next to this package (independent of the cwd)."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else PACKAGE_DIR / "data"


def today_in_china() -> dt.date:
    return dt.datetime.now(CHINA_TZ).date()


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the knowledge base, printed as `file[:line]: field: reason`."""

    file: str
    field: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field or '-'}: {self.reason}"


class KnowledgeError(Exception):
    """The knowledge base is invalid; `problems` lists every problem found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the knowledge base:\n{lines}")


# --- YAML -------------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that records duplicate mapping keys (PyYAML silently keeps the last one)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str) and key in seen:
                self.duplicates.append((key, key_node.start_mark.line + 1))
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


@dataclass
class _Document:
    data: Any
    node: yaml.Node | None


def _field_path(loc: Iterable[Any]) -> str:
    path = ""
    for part in loc:
        if part == "__root__":
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _line_of(node: yaml.Node | None, loc: Iterable[Any]) -> int | None:
    """Line of the deepest YAML node that `loc` reaches (1-based)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


@dataclass
class _Collector:
    problems: list[Problem] = field(default_factory=list)
    # ids/codes declared by entries that failed validation: referring to them is not a second problem
    broken_codes: set[str] = field(default_factory=set)
    broken_ids: set[str] = field(default_factory=set)
    # (file, department code, line) of procedures that failed validation, still checked against the base
    broken_refs: list[tuple[str, str, int | None]] = field(default_factory=list)

    def add(self, file: str, field_path: str, reason: str, line: int | None = None) -> None:
        self.problems.append(Problem(file, field_path, reason, line))

    def read_yaml(self, path: Path, shown: str) -> _Document | None:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            self.add(shown, "-", "file not found")
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self.add(shown, "-", f"cannot read: {exc}")
            return None
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            reason = " ".join(str(getattr(exc, "problem", None) or exc).split())
            self.add(shown, "-", f"YAML syntax error: {reason}", mark.line + 1 if mark else None)
            return None
        finally:
            loader.dispose()
        for key, line in loader.duplicates:
            self.add(shown, key, "duplicate key (YAML keeps only the last one)", line)
        return _Document(data, node)

    def validate(self, model: type, data: Any, node: yaml.Node | None, shown: str, prefix: tuple = ()):
        try:
            return model.parse_obj(data)
        except ValidationError as exc:
            seen = set()
            for error in exc.errors():
                loc = prefix + tuple(error["loc"])
                key = (loc, error["msg"])
                if key in seen:
                    continue
                seen.add(key)
                self.add(shown, _field_path(loc), error["msg"], _line_of(node, loc))
            return None


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# --- knowledge base ---------------------------------------------------------------------------------


class KnowledgeBase:
    """Procedures by id and departments by code, validated as a whole."""

    def __init__(
        self,
        procedures: Mapping[str, Procedure],
        departments: Mapping[str, Department],
        root: Path | None = None,
    ) -> None:
        self.procedures: dict[str, Procedure] = dict(procedures)
        self.departments: dict[str, Department] = dict(departments)
        self.root = root

    def __repr__(self) -> str:
        return f"KnowledgeBase({len(self.procedures)} procedures, {len(self.departments)} departments)"

    def procedure(self, procedure_id: str) -> Procedure:
        """The procedure with this id; KeyError if unknown."""
        return self.procedures[procedure_id]

    def department_of(self, procedure: Procedure | str) -> Department:
        if isinstance(procedure, str):
            procedure = self.procedure(procedure)
        return self.departments[procedure.department]

    def fingerprint(self) -> str:
        """Hash of the content, to tell whether a saved index or build still matches the data."""
        digest = hashlib.sha256()
        for group in (self.departments, self.procedures):
            for key in sorted(group):
                digest.update(json.dumps(group[key].dict(), ensure_ascii=False, sort_keys=True, default=str)
                              .encode())
        return digest.hexdigest()

    @classmethod
    def load(cls, root: Path | str | None = None, *, today: dt.date | None = None) -> KnowledgeBase:
        """Read `root` (default: `default_root()`); raise KnowledgeError listing every problem."""
        root = Path(root) if root is not None else default_root()
        today = today or today_in_china()
        collector = _Collector()
        departments = _load_departments(root / DEPARTMENTS_FILE, collector)
        procedures = _load_procedures(root / PROCEDURES_DIR, collector)
        _check_base(procedures, departments, today, collector)
        if collector.problems:
            raise KnowledgeError(collector.problems)
        return cls({p.id: p for p, _, _ in procedures}, {d.code: d for d, _, _ in departments}, root)


class _Entry(NamedTuple):
    model: Any  # Department | Procedure
    file: str
    node: yaml.Node | None


_Loaded = list[_Entry]


def _load_departments(path: Path, collector: _Collector) -> _Loaded:
    shown = _shown(path)
    document = collector.read_yaml(path, shown)
    if document is None:
        return []
    data = document.data
    if not isinstance(data, dict) or not isinstance(data.get("departments"), list):
        collector.add(shown, "departments", "the file must be a mapping with a `departments:` list")
        return []
    extra = sorted(set(data) - {"departments"})
    if extra:
        collector.add(shown, ", ".join(map(str, extra)), "unexpected top-level key")
    list_node = _child(document.node, "departments")
    loaded = []
    for index, item in enumerate(data["departments"]):
        node = list_node.value[index] if isinstance(list_node, yaml.SequenceNode) else None
        loc = ("departments", index)
        department = collector.validate(Department, item, document.node, shown, prefix=loc)
        if department is not None:
            loaded.append(_Entry(department, shown, node))
        elif isinstance(item, dict) and isinstance(item.get("code"), str):
            collector.broken_codes.add(item["code"])
    return loaded


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        return next((v for k, v in node.value if getattr(k, "value", None) == key), None)
    return None


def _load_procedures(directory: Path, collector: _Collector) -> _Loaded:
    if not directory.is_dir():
        collector.add(_shown(directory), "-", "directory not found")
        return []
    loaded = []
    for path in sorted(directory.iterdir()):
        shown = _shown(path)
        if path.suffix == ".yaml":
            collector.add(shown, "-", "procedure files must end in .yml (this one would be ignored)")
            continue
        if path.suffix != ".yml" or not path.is_file():
            continue
        document = collector.read_yaml(path, shown)
        if document is None:
            continue
        if not isinstance(document.data, dict):
            collector.add(shown, "-", "the file must be a YAML mapping (one procedure)")
            continue
        procedure = collector.validate(Procedure, document.data, document.node, shown)
        raw_id, raw_department = document.data.get("id"), document.data.get("department")
        if isinstance(raw_id, str) and raw_id != path.stem:
            collector.add(shown, "id", f"id {raw_id!r} must equal the file stem {path.stem!r}",
                          _line_of(document.node, ("id",)))
        if procedure is None:
            collector.broken_ids.add(path.stem)
            if isinstance(raw_department, str):
                line = _line_of(document.node, ("department",))
                collector.broken_refs.append((shown, raw_department, line))
            continue
        loaded.append(_Entry(procedure, shown, document.node))
    return loaded


def _check_base(procedures: _Loaded, departments: _Loaded, today: dt.date, collector: _Collector) -> None:
    """Rules that need the whole base: references, uniqueness, dates."""
    codes: dict[str, str] = {}
    department_names: dict[str, str] = {}
    for department, shown, node in departments:
        if department.code in codes:
            collector.add(shown, "code", f"duplicate department code {department.code!r}",
                          _line_of(node, ("code",)))
        codes.setdefault(department.code, shown)
        for path, phrase in [("name", department.name), ("short_name", department.short_name)] + [
            (f"aliases[{i}]", alias) for i, alias in enumerate(department.aliases)
        ]:
            key = normalise(phrase)
            owner = department_names.setdefault(key, department.code)
            if owner != department.code:
                collector.add(shown, f"departments[{department.code}].{path}",
                              f"{phrase!r} also names department {owner!r}",
                              _line_of(node, (path.split("[")[0],)))

    ids = {p.id for p, _, _ in procedures} | collector.broken_ids
    seen_ids: dict[str, str] = {}
    names: dict[str, str] = {}  # normalised name -> procedure id
    for procedure, shown, _ in procedures:
        if procedure.id in seen_ids:
            collector.add(shown, "id", f"duplicate id {procedure.id!r} (also in {seen_ids[procedure.id]})")
        seen_ids.setdefault(procedure.id, shown)
        owner = names.setdefault(normalise(procedure.name), procedure.id)
        if owner != procedure.id:
            collector.add(shown, "name", f"same name as procedure {owner!r}")

    for shown, code, line in collector.broken_refs:
        if code not in codes and code not in collector.broken_codes:
            collector.add(shown, "department", f"unknown department code {code!r}", line)

    aliases: dict[str, str] = {}  # normalised alias -> procedure id
    for procedure, shown, node in procedures:
        line = _line_of(node, ("department",))
        if procedure.department not in codes and procedure.department not in collector.broken_codes:
            collector.add(shown, "department", f"unknown department code {procedure.department!r}", line)
        for index, related in enumerate(procedure.related):
            if related not in ids:
                collector.add(shown, f"related[{index}]", f"unknown procedure id {related!r}",
                              _line_of(node, ("related", index)))
        if procedure.last_verified > today:
            collector.add(shown, "last_verified", f"{procedure.last_verified} is in the future",
                          _line_of(node, ("last_verified",)))
        for index, alias in enumerate(procedure.aliases):
            key = normalise(alias)
            where = f"aliases[{index}]"
            alias_line = _line_of(node, ("aliases", index))
            if not key:
                collector.add(shown, where, f"{alias!r} has no searchable characters", alias_line)
                continue
            if names.get(key, procedure.id) != procedure.id:
                collector.add(shown, where, f"{alias!r} is the name of procedure {names[key]!r}", alias_line)
            owner = aliases.setdefault(key, procedure.id)
            if owner != procedure.id:
                collector.add(shown, where, f"duplicate alias {alias!r} (also an alias of {owner!r})",
                              alias_line)
