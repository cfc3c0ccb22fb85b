"""The judge cache: re-judging identical requests sends nothing; anything that changes the request misses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from inspect_ai.model import ChatMessageUser, ContentImage, ContentText, GenerateConfig
from typer.testing import CliRunner

from mis.cli import app
from mis.judges._cache import JudgeCache, request_key
from tests.eval.conftest import EXPECTED_METRICS, JUDGE_SCRIPT, read_jsonl, uid_of

pytestmark = pytest.mark.slow

#: The samples whose judge reply never follows the protocol (never cached: asked again on every run).
NEVER_ACCEPTED = {uid for uid, (_, outcome) in JUDGE_SCRIPT.items() if outcome == "unknown"}


def _responses(root: Path, path: Path, changed: str | None = None) -> Path:
    lines = []
    for split in ("easy", "hard", "real"):
        for rec in json.loads((root / f"mis_{split}.json").read_text()):
            text = "The first image shows a square and the second a circle."
            if f"{split}/{rec['id']}" == changed:
                text = "The first image shows a triangle."
            lines.append(json.dumps(dict(rec, response=text)))
    path.write_text("\n".join(lines) + "\n")
    return path


def _judge(responses: Path, data: Path, url: str, out: Path, *extra: str) -> dict:
    args = ["judge", str(responses), "--data", str(data), "--judge", "openai-api/judge/judge",
            "--judge-base-url", url, "--out", str(out), "--fail-on-unknown", "100", *extra]
    proc = CliRunner().invoke(app, args)
    assert proc.exit_code == 0, proc.output
    return json.loads((out / "results.json").read_text())


def _asked(server, since: int) -> list[str]:
    return [str(uid_of(body)) for body in server.chat_requests()[since:]]


def test_rejudging_identical_responses_sends_only_unaccepted(tagged_mis: Path, judge_server, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIS_CACHE_DIR", str(tmp_path / "cache"))
    server = judge_server()
    responses = _responses(tagged_mis, tmp_path / "model.jsonl")
    first = _judge(responses, tagged_mis, server.base_url, tmp_path / "a")
    assert set(_asked(server, 0)) == set(JUDGE_SCRIPT)
    n = len(server.chat_requests())

    second = _judge(responses, tagged_mis, server.base_url, tmp_path / "b")  # a new folder: no resume
    asked = _asked(server, n)
    # only the replies the protocol never accepted are asked again (3 attempts each), nothing else
    assert set(asked) == NEVER_ACCEPTED and len(asked) == 3 * len(NEVER_ACCEPTED)
    assert second["metrics"] == first["metrics"] == EXPECTED_METRICS
    labels = {r["uid"]: r["outcome"] for r in read_jsonl(tmp_path / "a" / "samples.jsonl")}
    assert {r["uid"]: r["outcome"] for r in read_jsonl(tmp_path / "b" / "samples.jsonl")} == labels

    n = len(server.chat_requests())  # one changed response: that sample misses by construction
    changed = _responses(tagged_mis, tmp_path / "changed.jsonl", changed="hard/2")
    _judge(changed, tagged_mis, server.base_url, tmp_path / "c")
    assert set(_asked(server, n)) == NEVER_ACCEPTED | {"hard/2"}

    n = len(server.chat_requests())  # the cache off: every sample is asked
    _judge(responses, tagged_mis, server.base_url, tmp_path / "d", "--no-judge-cache")
    assert set(_asked(server, n)) == set(JUDGE_SCRIPT)
    run = json.loads((tmp_path / "d" / "run.json").read_text())
    assert run["config"]["judge_cache"] is False


def _request(image: str, text: str) -> list:
    return [ChatMessageUser(content=[ContentImage(image=image), ContentText(text=text)])]


def test_request_key_covers_model_server_decoding_prompt_and_images() -> None:
    config = GenerateConfig(temperature=0.0, max_tokens=128)
    base = request_key("openai/gpt-4o", None, _request("data:image/png;base64,AAAA", "rubric q r"), config)
    assert base == request_key("openai/gpt-4o", None, _request("data:image/png;base64,AAAA", "rubric q r"),
                               config)
    others = [
        request_key("openai/gpt-4o-mini", None, _request("data:image/png;base64,AAAA", "rubric q r"), config),
        request_key("openai/gpt-4o", "http://127.0.0.1:1/v1", _request("data:image/png;base64,AAAA",
                                                                        "rubric q r"), config),
        request_key("openai/gpt-4o", None, _request("data:image/png;base64,AAAB", "rubric q r"), config),
        request_key("openai/gpt-4o", None, _request("data:image/png;base64,AAAA", "rubric q r2"), config),
        request_key("openai/gpt-4o", None, _request("data:image/png;base64,AAAA", "rubric q r"),
                    GenerateConfig(temperature=0.0, max_tokens=256)),
    ]
    assert len({base, *others}) == 6


def test_cache_entries_round_trip_and_torn_entries_miss(tmp_path: Path) -> None:
    cache = JudgeCache(tmp_path)
    key = "ab" + "0" * 62
    assert cache.get(key) is None
    cache.put(key, '{"perception": "Level1", "safety": "Safe"}')
    assert cache.get(key) == '{"perception": "Level1", "safety": "Safe"}'
    (tmp_path / "ab" / f"{key}.json").write_text('{"key": "ab', encoding="utf-8")  # a torn write
    assert cache.get(key) is None
