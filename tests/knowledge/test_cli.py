"""python -m knowledge validate | search | stats | build, run in-process through main(argv)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge.__main__ import main

REPO = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    monkeypatch.setattr("knowledge.loader.today_in_china", lambda: dt.date(2026, 11, 26))


def test_validate_ok(capsys, knowledge_dir) -> None:
    code, out, _ = run(capsys, "--root", str(knowledge_dir.root), "validate")
    assert code == 0
    assert out.startswith("OK: 12 procedures (0 verified), 5 departments")
    assert len(out.splitlines()) == 1


def test_validate_prints_each_problem(capsys, knowledge_dir, procedure_data) -> None:
    broken = procedure_data("company-setup", department="hz-nowhere", kind="许可")
    path = knowledge_dir.write_procedure(broken)
    code, out, err = run(capsys, "--root", str(knowledge_dir.root), "validate")
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{path}:") for line in lines)
    assert any(": kind: unexpected value" in line for line in lines)
    assert any(": department: unknown department code 'hz-nowhere'" in line for line in lines)
    assert "2 problem(s)" in err


def test_search_json(capsys, knowledge_dir) -> None:
    root = str(knowledge_dir.root)
    code, out, _ = run(capsys, "--root", root, "search", "二类备案换法人", "--json", "--top", "2")
    assert code == 0
    payload = json.loads(out)
    assert payload["decision"] == "answer"
    assert payload["candidates"][0]["id"] == "md2-operating-record-change"
    assert len(payload["candidates"]) <= 2
    assert {"score", "signals", "name"} <= set(payload["candidates"][0])


def test_search_text(capsys, knowledge_dir) -> None:
    code, out, _ = run(capsys, "--root", str(knowledge_dir.root), "search", "我想变更法人")
    assert code == 0
    assert out.startswith("decision: clarify")
    assert "company-change-legal-rep" in out and "logit=" in out


def test_search_with_nlu_entities(capsys, knowledge_dir) -> None:
    args = ["--root", str(knowledge_dir.root), "search", "排污许可证", "--action", "延续", "--json"]
    code, out, _ = run(capsys, *args)
    assert code == 0 and json.loads(out)["candidates"][0]["id"] == "pollutant-permit-renewal"


def test_stats(capsys, knowledge_dir) -> None:
    code, out, _ = run(capsys, "--root", str(knowledge_dir.root), "stats")
    assert code == 0
    assert "12 procedures, 5 departments" in out
    assert "     6  变更" in out and "    12  unverified" in out and "市行政审批服务局" in out


def test_build_then_nothing_to_rebuild(capsys, knowledge_dir, tmp_path) -> None:
    out_dir = tmp_path / "out"
    code, out, _ = run(capsys, "--root", str(knowledge_dir.root), "build", "--out", str(out_dir))
    assert code == 0
    assert f"wrote   {out_dir / 'jieba' / 'userdict.txt'}" in out
    code, out, _ = run(capsys, "--root", str(knowledge_dir.root), "build", "--out", str(out_dir))
    assert code == 0 and out.startswith("0 written, 0 removed")


def test_build_refuses_an_invalid_base(capsys, knowledge_dir, procedure_data, tmp_path) -> None:
    knowledge_dir.write_procedure(procedure_data("company-setup", department="hz-nowhere"))
    code, out, _ = run(capsys, "--root", str(knowledge_dir.root), "build", "--out", str(tmp_path / "out"))
    assert code == 1 and "unknown department code 'hz-nowhere'" in out
    assert not (tmp_path / "out").exists()


def test_module_entry_point(knowledge_dir) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "knowledge", "--root", str(knowledge_dir.root), "validate"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("OK:")
