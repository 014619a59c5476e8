from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from actions.clients import knowledge as client_module
from actions.clients.knowledge import (
    PROJECT_ROOT,
    KnowledgeClient,
    KnowledgeSettings,
    KnowledgeUnavailable,
    get_knowledge_client,
    warm_up_in_background,
)


@pytest.mark.parametrize(
    ("environ", "knowledge_dir", "index_dir"),
    [
        pytest.param({}, None, PROJECT_ROOT / "build/knowledge/index", id="defaults"),
        pytest.param(
            {"KNOWLEDGE_DIR": "kb", "KNOWLEDGE_INDEX_DIR": "var/index"},
            PROJECT_ROOT / "kb",
            PROJECT_ROOT / "var/index",
            id="relative-to-project-root",
        ),
        pytest.param(
            {"KNOWLEDGE_DIR": "/srv/kb", "KNOWLEDGE_INDEX_DIR": "/srv/index"},
            Path("/srv/kb"),
            Path("/srv/index"),
            id="absolute",
        ),
        pytest.param(
            {"KNOWLEDGE_DIR": ""}, None, PROJECT_ROOT / "build/knowledge/index", id="empty-is-unset"
        ),
    ],
)
def test_settings_from_env(environ, knowledge_dir, index_dir):
    settings = KnowledgeSettings.from_env(environ)

    assert settings.knowledge_dir == knowledge_dir
    assert settings.index_dir == index_dir


def test_nothing_is_loaded_until_first_use(tmp_path):
    client = KnowledgeClient(KnowledgeSettings(knowledge_dir=tmp_path / "missing", index_dir=tmp_path))

    assert not client.loaded


def test_default_client_is_shared_and_lazy(monkeypatch):
    monkeypatch.setattr(client_module, "_default_client", None)

    client = get_knowledge_client()

    assert client is get_knowledge_client()
    assert not client.loaded


def test_loads_and_searches(kb_root, tmp_path):
    client = KnowledgeClient(KnowledgeSettings(knowledge_dir=kb_root, index_dir=tmp_path / "no-index"))

    result = client.search("第三类医疗器械经营许可变更")

    assert client.loaded
    assert result.decision == "answer"
    assert result.best.procedure.id == "md3-operating-licence-change"
    assert client.procedure("md3-operating-licence-change").name == "第三类医疗器械经营许可变更"
    assert client.department_of(client.procedure("md2-registration-change")).code == "sd-yjj"
    assert client.department("hz-chuishao").name == "菏泽市企业吹哨办"


@pytest.mark.parametrize("procedure_id", [None, "", "no-such-procedure"])
def test_unknown_procedure_is_none(knowledge_client, procedure_id):
    assert knowledge_client.procedure(procedure_id) is None


def test_search_excludes(knowledge_client):
    result = knowledge_client.search("第三类医疗器械经营许可变更", exclude=["md3-operating-licence-change"])

    assert "md3-operating-licence-change" not in [c.procedure.id for c in result.candidates]


def test_loads_once_across_threads(kb_root, tmp_path, monkeypatch):
    client = KnowledgeClient(KnowledgeSettings(knowledge_dir=kb_root, index_dir=tmp_path / "no-index"))
    real_load = client._load
    calls = []

    def slow_load():
        calls.append(threading.get_ident())
        time.sleep(0.05)
        return real_load()

    monkeypatch.setattr(client, "_load", slow_load)
    threads = [threading.Thread(target=client.load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(calls) == 1
    assert client.loaded


def test_failure_raises_and_is_retried(tmp_path, write_kb):
    root = tmp_path / "kb"
    client = KnowledgeClient(KnowledgeSettings(knowledge_dir=root, index_dir=tmp_path / "index"))

    with pytest.raises(KnowledgeUnavailable):
        client.load()
    assert not client.loaded

    write_kb(root)
    client.load()
    assert client.loaded


def test_saved_index_is_loaded_not_rebuilt(kb_root, tmp_path, monkeypatch):
    import knowledge

    index = tmp_path / "index"
    knowledge.Retriever.build(knowledge.KnowledgeBase.load(kb_root)).save(index)
    monkeypatch.setattr(knowledge.Retriever, "build", pytest.fail)
    client = KnowledgeClient(KnowledgeSettings(knowledge_dir=kb_root, index_dir=index))

    result = client.search("第三类医疗器械经营许可变更")

    assert result.best.procedure.id == "md3-operating-licence-change"


def test_stale_index_is_rebuilt(kb_root, tmp_path, write_kb):
    import knowledge

    index = tmp_path / "index"
    knowledge.Retriever.build(knowledge.KnowledgeBase.load(kb_root)).save(index)
    changed = write_kb(tmp_path / "changed", departments_without=set())
    (changed / "procedures" / "company-setup-registration.yml").unlink()
    client = KnowledgeClient(KnowledgeSettings(knowledge_dir=changed, index_dir=index))

    result = client.search("注册公司", action="新办")

    assert "company-setup-registration" not in [c.procedure.id for c in result.candidates]


def test_unreadable_index_falls_back_to_building(kb_root, tmp_path, monkeypatch):
    import knowledge

    index = tmp_path / "index"
    index.mkdir()

    def broken_load(index_dir, kb):
        raise ValueError("corrupt index")

    monkeypatch.setattr(knowledge.Retriever, "load", broken_load)
    client = KnowledgeClient(KnowledgeSettings(knowledge_dir=kb_root, index_dir=index))

    client.load()

    assert client.loaded


def test_concurrent_searches_agree(knowledge_client):
    """The action server searches from worker threads (asyncio.to_thread)."""
    from concurrent.futures import ThreadPoolExecutor

    queries = ["二类备案换法人", "三类许可证换法人", "注册公司", "社保开户", "公司改经营范围"] * 20
    expected = {q: knowledge_client.search(q).candidates[0].procedure.id for q in set(queries)}

    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(lambda q: knowledge_client.search(q).candidates[0].procedure.id, queries))

    assert found == [expected[q] for q in queries]


def test_warm_up_loads_before_the_first_question(kb_root, tmp_path):
    client = KnowledgeClient(KnowledgeSettings(knowledge_dir=kb_root, index_dir=tmp_path / "no-index"))

    warm_up_in_background(client).join(timeout=60)

    assert client.loaded


def test_failed_warm_up_is_logged_not_raised(tmp_path, write_kb, caplog):
    root = tmp_path / "kb"
    client = KnowledgeClient(KnowledgeSettings(knowledge_dir=root, index_dir=tmp_path / "index"))

    warm_up_in_background(client).join(timeout=60)

    assert not client.loaded
    assert "Warming up the knowledge base failed" in caplog.text
    write_kb(root)
    client.load()
    assert client.loaded
