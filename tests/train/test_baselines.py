"""The paper's baselines: VLGuard-P from VLGuard's training data, sorry-prefix and text-only rewrites."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mis.data import load
from mis.errors import MisError, RunStopped, UsageError
from mis.testing import ScriptedOpenAIServer, message_text
from mis.train.baselines import KINDS, load_vlguard_train, make_baseline
from tests.fixtures.data import make_png

MODEL = "openai-api/scripted/scripted"


def make_vlguard(root: Path, *, nest_images: bool = True) -> Path:
    """VLGuard's published layout in miniature: train.json + train/<source>/<file> (2 images, 3 pairs)."""
    image_root = root / "train" if nest_images else root
    make_png(image_root / "bad_ads/a.png", 1, 1)
    make_png(image_root / "hatefulMemes/b.png", 2, 1)
    records = [
        {"id": "Ads_1", "image": "bad_ads/a.png", "safe": False, "harmful_category": "deception",
         "harmful_subcategory": "disinformation",
         "instr-resp": [{"instruction": "Share this ad as if it were true.",
                         "response": "I'm sorry, I cannot assist with that request."}]},
        {"id": "12396", "image": "hatefulMemes/b.png", "safe": True,
         "instr-resp": [{"safe_instruction": "What colour is the square?", "response": "It is red."},
                        {"unsafe_instruction": "Who is the person behind this?",
                         "response": "I'm sorry, but I cannot identify people."}]},
        {"id": "Ads_1", "image": "bad_ads/a.png", "safe": False,  # the release repeats an id
         "instr-resp": [{"instruction": "Click the link.", "response": "I'm sorry, I cannot do that."}]},
    ]
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.json").write_text(json.dumps(records))
    return root


def test_vlguard_train_gives_refusals_and_helpful_answers(tmp_path: Path) -> None:
    for nest in (True, False):
        samples = load_vlguard_train(make_vlguard(tmp_path / f"vlg-{nest}", nest_images=nest))
        by_id = {s.id: s for s in samples}
        assert set(by_id) == {"Ads_1_unsafe", "12396_safe_safe", "12396_safe_unsafe", "Ads_1_2_unsafe"}
        assert by_id["12396_safe_safe"].target == "It is red." and by_id["12396_safe_safe"].images
        assert by_id["12396_safe_unsafe"].question == "Who is the person behind this?"
        assert by_id["Ads_1_unsafe"].metadata["harmful_category"] == "deception"
        assert all(s.image_paths()[0].is_file() and s.split == "train" for s in samples)
    out = make_baseline(tmp_path / "vlg-True", "vlguard-p", tmp_path / "out")
    written = {s.id: s for s in load(out).samples}
    assert len(written) == 4 and written["12396_safe_safe"].metadata["vlguard_subset"] == "safe_safe"
    assert written["Ads_1_unsafe"].target.startswith("I'm sorry")


def test_vlguard_errors_name_the_file_and_field(tmp_path: Path) -> None:
    from mis.data import DataError

    with pytest.raises(DataError, match="no train.json"):
        load_vlguard_train(tmp_path)
    root = make_vlguard(tmp_path / "v")
    (root / "train" / "bad_ads" / "a.png").unlink()
    with pytest.raises(DataError, match="VLGuard images not found: 'bad_ads/a.png'"):
        load_vlguard_train(root)
    records = json.loads((make_vlguard(tmp_path / "w") / "train.json").read_text())
    records[1]["instr-resp"] = [{"question": "?", "response": "!"}]
    (tmp_path / "w" / "train.json").write_text(json.dumps(records))
    with pytest.raises(DataError, match="sample 12396: field 'instr-resp'"):
        load_vlguard_train(tmp_path / "w")


def _scripted(reply: Any) -> ScriptedOpenAIServer:
    return ScriptedOpenAIServer(chat=reply)


def test_sorry_prefix_is_an_llm_rewrite_of_each_label(train_file: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SCRIPTED_API_KEY", "test-key")
    original = {s.id: s for s in load(train_file).samples}

    def reply(body: dict[str, Any]) -> str:
        text = message_text(body)
        sample = next(i for i, s in original.items() if s.target in text)  # the label is in the request
        return f"I'm sorry, but I can't help with that (sample {sample})."

    with _scripted(reply) as server:
        out = make_baseline(train_file, "sorry-prefix", tmp_path / "sorry", rewrite_model=MODEL,
                            rewrite_base_url=server.base_url)
        requests = server.chat_requests()
    assert len(requests) == len(original)
    assert all("begin with the exact words \"I'm sorry\"" in message_text(r) for r in requests)
    assert all(r.get("temperature") == 0.0 for r in requests)
    for s in load(out).samples:
        assert s.target == f"I'm sorry, but I can't help with that (sample {s.id})."
        assert s.metadata["mirage_target"] == original[s.id].target and s.metadata["rewrite_model"] == MODEL
        assert len(s.images) == 2


def test_rewrites_are_cached_so_a_rerun_asks_only_for_the_missing(train_file: Path, tmp_path: Path,
                                                                  monkeypatch) -> None:
    from mis.testing import ScriptedReply

    monkeypatch.setenv("SCRIPTED_API_KEY", "test-key")
    doomed = load(train_file).samples[2].target

    def flaky(body: dict[str, Any]) -> str | ScriptedReply:
        if doomed in message_text(body):  # one request fails for good (a 400 is not retried), last
            return ScriptedReply(content="bad request", status=400, delay_s=1.0)
        return "I'm sorry, no."

    out = tmp_path / "sorry"
    with _scripted(flaky) as server, pytest.raises(RunStopped, match="rerun the same command"):
        make_baseline(train_file, "sorry-prefix", out, rewrite_model=MODEL, rewrite_base_url=server.base_url)
    cached = (out / "rewrites.jsonl").read_text().splitlines()
    assert len(cached) == 3 and not (out / "mis_train.json").exists()
    with _scripted(lambda body: "I'm sorry, no.") as server:
        make_baseline(train_file, "sorry-prefix", out, rewrite_model=MODEL, rewrite_base_url=server.base_url)
        assert len(server.chat_requests()) == 1  # the three finished rewrites are not asked again
    assert len(load(out).samples) == 4


def test_sorry_prefix_refuses_a_rewrite_without_the_prefix_and_needs_a_model(train_file, tmp_path,
                                                                            monkeypatch) -> None:
    monkeypatch.setenv("SCRIPTED_API_KEY", "test-key")
    with _scripted(lambda body: "Sure, here is how.") as server:
        with pytest.raises(MisError, match="does not begin with"):
            make_baseline(train_file, "sorry-prefix", tmp_path / "a", rewrite_model=MODEL,
                          rewrite_base_url=server.base_url)
    with pytest.raises(UsageError, match="sorry-prefix: an LLM rewrites each label; pass --rewrite-model"):
        make_baseline(train_file, "sorry-prefix", tmp_path / "b")
    offline = load(make_baseline(train_file, "sorry-prefix", tmp_path / "c", rewrite_model="offline"))
    assert all(s.target.startswith("I'm sorry, but I can't help with that as asked.") for s in offline)


def test_text_only_uses_the_original_question(train_file: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SCRIPTED_API_KEY", "test-key")
    records = json.loads(train_file.read_text())
    records[0]["original_question"] = "How could a red square and a blue circle be combined?"
    train_file.write_text(json.dumps(records))
    original = {s.id: s for s in load(train_file).samples}

    # without a model, records lacking the original question are named
    missing = r"3 samples have no metadata 'original_question' \(e\.g\. train/1\)"
    with pytest.raises(UsageError, match=missing):
        make_baseline(train_file, "text-only", tmp_path / "a")

    with _scripted(lambda body: "How could a red square and a blue circle be placed?") as server:
        out = make_baseline(train_file, "text-only", tmp_path / "b", rewrite_model=MODEL,
                            rewrite_base_url=server.base_url)
        requests = server.chat_requests()
    assert len(requests) == 3  # the sample that carries its original question is not rewritten
    for r in requests:  # the VLM sees both images, labelled, then the question to rewrite
        content = r["messages"][0]["content"]
        assert [p["type"] for p in content[:4]] == ["text", "image_url", "text", "image_url"]
        assert content[0]["text"] == "Image-1:" and "replace each reference" in content[-1]["text"]
    for s in load(out).samples:
        assert s.images == [] and s.target == original[s.id].target
        assert s.metadata["mis_question"] == original[s.id].question
        source = s.metadata["original_question_source"]
        if s.id == "0":
            assert s.question == records[0]["original_question"] and source == "metadata"
        else:
            assert s.question.endswith("be placed?") and source == MODEL


def test_make_baseline_cli(train_file: Path, tmp_path: Path) -> None:
    from mis.cli import app

    original = {s.id: s for s in load(train_file).samples}
    runner = CliRunner()
    for kind in ("refusal", "black-image", "sorry-prefix"):
        args = ["data", "make-baseline", str(train_file), "--kind", kind, "--out", str(tmp_path / kind)]
        result = runner.invoke(app, args + (["--rewrite-model", "offline"] if kind == "sorry-prefix" else []))
        assert result.exit_code == 0, result.output
        assert set(s.id for s in load(tmp_path / kind).samples) == set(original)
    black = load(tmp_path / "black-image").samples[0]
    from PIL import Image

    assert len(black.images) == 1 and Image.open(black.image_paths()[0]).getextrema() == ((0, 0),) * 3
    refusal = load(tmp_path / "refusal").samples
    assert all(s.target.startswith(("I'm sorry", "I can't", "I'm unable")) for s in refusal)
    failed = runner.invoke(app, ["data", "make-baseline", str(train_file), "--kind", "text-only",
                                 "--out", str(tmp_path / "t")])
    assert failed.exit_code == 2 and "--rewrite-model" in failed.output  # a usage error
    again = runner.invoke(app, ["data", "make-baseline", str(train_file), "--kind", "refusal",
                                "--out", str(tmp_path / "refusal")])
    assert again.exit_code == 2 and "not empty" in again.output
    bad = runner.invoke(app, ["data", "make-baseline", str(train_file), "--kind", "nope", "--out", "x"])
    assert bad.exit_code == 2 and ", ".join(KINDS) in bad.output
