"""The record files: torn tails, dedupe, the ledger rule, the request cache, reply parsing."""

from __future__ import annotations

import pytest

from mis.build._parse import Drop, normalise_text, parse_json
from mis.build._store import RequestCache, StageStore, read_jsonl


def test_torn_tail_is_repaired_and_uncommitted_outputs_ignored(tmp_path):
    store = StageStore(tmp_path, "refine")
    store.open({"v": 1})
    store.commit("a", [{"id": "a", "x": 1}], [])
    store.commit("b", [], [{"id": "b", "code": "malformed", "reason": "r"}])
    # a kill after writing outputs but before the ledger line, then a torn write
    with store.records_path.open("a") as fh:
        fh.write('{"id": "c", "x": 3}\n{"id": "d", "x"')
    assert [r["id"] for r in store.records()] == ["a"]
    store.open({"v": 1})  # next run repairs the tail
    assert store.records_path.read_text().endswith("\n")
    store.commit("c", [{"id": "c", "x": 3}], [])
    store.commit("a", [{"id": "a", "x": 99}], [])  # a duplicate commit never wins over the first
    assert [(r["id"], r["x"]) for r in store.records()] == [("a", 1), ("c", 3)]
    assert [d["id"] for d in store.dropped()] == ["b"]
    with pytest.raises(Exception, match="--restart-from refine"):
        StageStore(tmp_path, "refine").open({"v": 2})


def test_bad_line_in_the_middle_raises(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": 1}\nnot json\n{"id": 2}\n')
    with pytest.raises(ValueError, match="line 2"):
        list(read_jsonl(path))


def test_request_cache_survives_reload(tmp_path):
    cache = RequestCache(tmp_path / "c.jsonl")
    cache.put(RequestCache.key("r1", "h1"), "reply one")
    again = RequestCache(tmp_path / "c.jsonl")
    assert again.get("r1:h1") == "reply one" and again.get("r1:h2") is None


def test_parse_json_takes_fenced_or_embedded_json():
    assert parse_json('Here:\n```json\n{"a": 1}\n```', "s") == {"a": 1}
    assert parse_json('Sure. {"a": [1, 2]} Hope that helps', "s") == {"a": [1, 2]}
    with pytest.raises(Drop) as info:
        parse_json("I cannot help with that.", "refine")
    assert info.value.code == "malformed" and "refine" in info.value.reason
    assert (
        normalise_text("How could  the Object, in the first image?")
        == "how could the object in the first image"
    )


def test_not_durable_store_still_commits(tmp_path, monkeypatch):
    import os

    calls = []
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd))
    store = StageStore(tmp_path, "x", durable=False)
    store.open({})
    calls.clear()  # the fingerprint file is always written durably (once per stage)
    store.commit("a", [{"id": "a"}], [])
    RequestCache(tmp_path / "c.jsonl", durable=False).put("a:h", "r")
    assert calls == [] and [r["id"] for r in store.records()] == ["a"]
    StageStore(tmp_path, "y").open({})
    calls.clear()
    StageStore(tmp_path, "y").commit("b", [{"id": "b"}], [])
    assert len(calls) == 2  # records + ledger (no dropped rows to write)
