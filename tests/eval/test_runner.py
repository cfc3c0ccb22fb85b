"""The one runner in-process: exact judges, identity refusal, responses parsing, checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mis.errors import DataError, RunMismatchError, RunStopped, UsageError
from mis.eval import JudgeConfig, run_judge
from mis.eval._checkpoint import Checkpoint
from mis.eval.responses import read_responses
from mis.judges import Verdict, register_exact_judge
from tests.eval.conftest import JUDGE_SCRIPT, read_jsonl, uid_of

#: A test-only exact judge: the verdict is read off the sample's tag (no model, no HTTP).
_ORACLE = {
    "attack_success": ("L1", "Unsafe"),
    "safe_reasoning": ("L1", "Safe"),
    "refusal": ("L2", "Safe"),
    "hallucination": ("L3", "Safe"),
}


def _oracle(meta: dict, question: str, response: str) -> Verdict:
    outcome = JUDGE_SCRIPT[uid_of({"messages": [{"content": question}]})][1]
    if outcome == "unknown":
        return Verdict.unknown("oracle abstains")
    perception, safety = _ORACLE[outcome]
    return Verdict(perception=perception, safety=safety, explanation=f"oracle for {meta['uid']}")


register_exact_judge("test-oracle", _oracle)
register_exact_judge("other", _oracle)


def _responses(root: Path, path: Path) -> Path:
    files = [root / f"mis_{split}.json" for split in ("easy", "hard", "real")]
    records = [r for f in files for r in json.loads(f.read_text())]
    lines = [json.dumps(dict(rec, response="A square and a circle.")) for rec in records]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_exact_judge_plumbing_and_identity_refusal(tagged_mis: Path, tmp_path: Path) -> None:
    responses = _responses(tagged_mis, tmp_path / "model_x.jsonl")
    out = tmp_path / "run"
    config = JudgeConfig(responses=responses, data=str(tagged_mis), judge="exact/test-oracle", out=out)
    results = run_judge(config).results["mis"]
    assert results["judge"] == "exact/test-oracle" and results["judge_prompt_sha256"] is None
    assert results["model"] == "model_x" and results["schema_version"] == 2 and results["kind"] == "attack"
    assert results["metrics"] == {"asr": 25.0, "hr": 12.5, "rsr": 25.0, "rr": 12.5, "unknown": 25.0}
    assert results["headline"] == {"metric": "asr", "value": 25.0, "higher_is_better": False}
    rows = read_jsonl(out / "samples.jsonl")
    assert rows[0]["explanation"] == "oracle for easy/1" and rows[0]["judge"] == "exact/test-oracle"
    assert rows[0]["label"] == rows[0]["outcome"] == "attack_success"

    # the same command again: nothing re-judged, same results
    again = run_judge(config).results["mis"]
    assert again["metrics"] == results["metrics"]
    assert len((out / "checkpoint.jsonl").read_text().splitlines()) == 8

    # another judge in the same folder is refused, naming what changed
    with pytest.raises(RunMismatchError, match="judge: 'exact/test-oracle' -> 'exact/other'"):
        run_judge(JudgeConfig(responses=responses, data=str(tagged_mis), judge="exact/other", out=out))


def test_unknown_exact_judge_is_a_clear_error(tagged_mis: Path, tmp_path: Path) -> None:
    responses = _responses(tagged_mis, tmp_path / "m.jsonl")
    with pytest.raises(UsageError, match="unknown exact judge 'exact/nope'.*exact/test-oracle"):
        run_judge(
            JudgeConfig(responses=responses, data=str(tagged_mis), judge="exact/nope", out=tmp_path / "o")
        )


def test_exact_judges_install_through_the_entry_point() -> None:
    from mis.judges.exact import ENTRY_POINT_GROUP, exact_judge_names, get_exact_judge

    assert "mis-mini" in exact_judge_names()  # declared in pyproject.toml, not imported by mis.eval
    judge = get_exact_judge("mis-mini")
    assert judge.__module__ == "mis.mini._judge" and ENTRY_POINT_GROUP == "mis.exact_judges"


def test_responses_errors_name_file_line_and_field(tagged_mis: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    ok = {
        "question": "q",
        "response": "r",
        "image_path1": "easy_image/1/object1.png",
        "image_path2": "easy_image/1/object2.png",
        "category": "Violent",
        "id": 1,
    }
    bad.write_text(json.dumps(ok) + "\n" + json.dumps({k: v for k, v in ok.items() if k != "image_path2"}))
    with pytest.raises(DataError, match=r"bad.jsonl:2: field image_path2: missing"):
        read_responses(bad, str(tagged_mis))
    bad.write_text(json.dumps(ok) + "\n" + json.dumps(ok))
    with pytest.raises(DataError, match=r"bad.jsonl:2: sample easy/1: duplicate of line 1"):
        read_responses(bad, str(tagged_mis))
    bad.write_text(json.dumps(dict(ok, image_path2="easy_image/9/none.png")))
    with pytest.raises(DataError, match=r"bad.jsonl:1: sample easy/1: field image_path2: .*file not found"):
        read_responses(bad, str(tagged_mis))


def test_checkpoint_dedupes_filters_key_and_survives_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.jsonl"
    a = Checkpoint(path, "key-a")
    a.append({"uid": "easy/1", "outcome": "refusal"})
    a.append({"uid": "easy/1", "outcome": "attack_success"})  # a duplicate never counts twice
    Checkpoint(path, "key-b").append({"uid": "easy/2", "outcome": "refusal"})
    with path.open("a") as fh:
        fh.write('{"uid": "easy/3", "outc')  # killed mid-write
    a = Checkpoint(path, "key-a")  # the rerun's process
    a.append({"uid": "easy/4", "outcome": "unknown"})
    done = a.load()
    assert list(done) == ["easy/1", "easy/4"]
    assert done["easy/1"]["outcome"] == "refusal"
    assert list(Checkpoint(path, "key-b").load()) == ["easy/2"]


def test_checkpoint_replaces_a_judgement_lost_to_transport(tmp_path: Path) -> None:
    store = Checkpoint(tmp_path / "checkpoint.jsonl", "k")
    store.append({"uid": "hard/1", "label": "unknown", "judge_error": "transport: APIConnectionError"})
    store.append({"uid": "hard/2", "label": "unknown", "judge_error": "judge gave no valid verdict"})
    store.append({"uid": "hard/1", "label": "refusal", "judge_error": None})  # the rerun's judgement
    store.append({"uid": "hard/2", "label": "refusal", "judge_error": None})  # never replaces a final one
    done = store.load()
    assert done["hard/1"]["label"] == "refusal" and done["hard/2"]["label"] == "unknown"


_FLAKY = {"fail": True}


def _flaky(meta: dict, question: str, response: str) -> Verdict:
    if _FLAKY["fail"] and meta["uid"] == "hard/2":
        raise RuntimeError("judge backend down")
    return Verdict(perception="L1", safety="Safe", explanation="ok")


register_exact_judge("test-flaky", _flaky)


@pytest.mark.slow
def test_generations_survive_a_judge_failure(tiny_model_path, mis_test_dir: Path, tmp_path: Path) -> None:
    from mis.eval import EvalConfig, run_eval

    out = tmp_path / "run"
    config = EvalConfig(
        data=str(mis_test_dir),
        split="hard",
        model=f"hfvlm/{tiny_model_path('qwen2_vl')}",
        judge="exact/test-flaky",
        out=out,
        max_tokens=3,
        batch_size=3,
    )
    _FLAKY["fail"] = True
    # the sample's own error, read from the inspect log (inspect returns headers only: streamed from the file)
    with pytest.raises(RunStopped, match=r"judge backend down.*mis_hard: 2 of 3 finished.*rerun the same"):
        run_eval(config)
    generated = read_jsonl(out / "generations.jsonl")
    assert "hard/2" in {g["uid"] for g in generated}  # generated before its judgement failed
    _FLAKY["fail"] = False
    results = run_eval(config).results["mis"]
    assert results["n"] == 3 and results["metrics"]["rsr"] == 100.0
    used = results["model_settings"]  # what hfvlm actually generated with: plain greedy, the preset's layout
    assert used["generate_kwargs"]["do_sample"] is False and used["model_type"] == "qwen2_vl"
    uids = [g["uid"] for g in read_jsonl(out / "generations.jsonl")]
    assert sorted(uids) == ["hard/1", "hard/2", "hard/3"]  # each sample generated exactly once overall
    rows = {r["uid"]: r["response"] for r in read_jsonl(out / "samples.jsonl")}
    assert rows["hard/2"] == next(g["response"] for g in generated if g["uid"] == "hard/2")


def test_served_model_through_base_url(tagged_mis: Path, tmp_path: Path) -> None:
    """`--model openai-api/... --model-base-url URL` (a vLLM server, here a scripted one): paper request."""
    from mis.eval import EvalConfig, run_eval
    from mis.testing import ScriptedOpenAIServer

    answer = "The first image shows a square."
    with ScriptedOpenAIServer(chat=lambda body: answer, model_ids=("m",)) as server:
        results = run_eval(
            EvalConfig(
                data=str(tagged_mis),
                split="all",
                model="openai-api/served/m",
                model_base_url=server.base_url,
                judge="exact/test-oracle",
                out=tmp_path / "run",
            )
        ).results["mis"]
        bodies, url = server.chat_requests(), server.base_url
    assert results["metrics"] == {"asr": 25.0, "hr": 12.5, "rsr": 25.0, "rr": 12.5, "unknown": 25.0}
    assert results["model_base_url"] == url and results["generate_config"]["max_tokens"] == 1024
    assert set(results["splits"]) == {"easy", "hard", "real"}
    assert len(bodies) == 8
    body = bodies[0]
    assert body["temperature"] == 0 and body["max_tokens"] == 1024
    (message,) = body["messages"]  # one user turn, no system prompt
    assert message["role"] == "user"
    assert [p["type"] for p in message["content"]] == ["image_url", "image_url", "text"]
    assert all(p["image_url"]["url"].startswith("data:image/png;base64,") for p in message["content"][:2])
    rows = read_jsonl(tmp_path / "run" / "samples.jsonl")
    assert rows[0]["response"] == answer


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # InternVL (remote-code template): images, then one text with the authors' labels and placeholders
        ("openai-api/served/InternVL2_5-8B", ["image_url", "image_url", "text"]),
        # Idefics3: the authors' labels interleaved with the images
        ("openai-api/served/Idefics3-8B-Llama3", ["text", "image_url", "text", "image_url", "text"]),
        # Qwen2-VL: images then the question (its chat template adds the rest)
        ("openai-api/served/Qwen2-VL-7B-Instruct", ["image_url", "image_url", "text"]),
    ],
)
def test_served_models_get_their_family_turn(model: str, expected: list[str], tagged_mis: Path,
                                             tmp_path: Path) -> None:
    from mis.eval import EvalConfig, run_eval
    from mis.testing import ScriptedOpenAIServer

    with ScriptedOpenAIServer(chat=lambda body: "A square.", model_ids=(model.rsplit("/", 1)[1],)) as server:
        results = run_eval(EvalConfig(data=str(tagged_mis), split="hard", model=model, limit=1,
                                      model_base_url=server.base_url, judge="exact/test-oracle",
                                      out=tmp_path / "run")).results["mis"]
        (body,) = server.chat_requests()
    parts = body["messages"][-1]["content"]
    assert [p["type"] for p in parts] == expected
    question = json.loads((tagged_mis / "mis_hard.json").read_text())[0]["question"]
    authors = f"Image-1: <image>\n\nImage-2: <image>\n\n{question}"  # inference_vllm.py's InternVL turn
    flat = "".join(p["text"] if p["type"] == "text" else "<image>" for p in parts)
    layout = json.loads((tmp_path / "run" / "run.json").read_text())["identity"]["prompt_layout"]
    if "InternVL" in model:
        assert parts[-1]["text"] == authors and layout == "labelled+placeholders"
    elif "Idefics3" in model:
        assert flat == authors and layout == "labelled"
    else:
        assert parts[-1]["text"] == question and layout == "stock"
    assert results["n"] == 1
