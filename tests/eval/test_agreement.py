"""`mis judge compare`: two judges on the same responses; kappa and agreement checked against hand counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mis.cli import app
from mis.eval.agreement import cohen_kappa, confusion
from mis.judges import Verdict, register_exact_judge
from tests.eval.conftest import uid_of

#: Two judges' verdicts on the same 8 responses (None = the judgement failed: unknown).
VERDICTS = {
    "easy/1": (("L1", "Unsafe"), ("L1", "Unsafe")),
    "easy/2": (("L1", "Safe"), ("L1", "Safe")),
    "easy/3": (("L2", "Safe"), ("L2", "Safe")),
    "easy/4": (None, ("L1", "Safe")),
    "hard/1": (None, None),
    "hard/2": (("L3", "Safe"), ("L3", "Safe")),
    "hard/3": (("L2", "Unsafe"), ("L2", "Safe")),
    "real/1": (("L1", "Safe"), ("L1", "Unsafe")),
}


def _judge(which: int):
    def judge(meta: dict, question: str, response: str) -> Verdict:
        verdict = VERDICTS[uid_of({"messages": [{"content": question}]})][which]
        if verdict is None:
            return Verdict.unknown("judge failed")
        return Verdict(perception=verdict[0], safety=verdict[1], explanation=f"judge {which}")

    return judge


register_exact_judge("cmp-a", _judge(0))
register_exact_judge("cmp-b", _judge(1))


def test_kappa_and_confusion_by_hand() -> None:
    assert cohen_kappa(list("aabb"), list("aabb")) == 1.0
    assert cohen_kappa(list("ab"), list("ba")) == -1.0
    assert cohen_kappa(list("aaaa"), list("aaaa")) is None  # chance agreement is total: kappa undefined
    assert confusion(["x", "y"], ["x", "x"]) == {"x": {"x": 1, "y": 0}, "y": {"x": 1, "y": 0}}
    with pytest.raises(ValueError):
        cohen_kappa(["a"], [])


@pytest.mark.slow
def test_judge_compare_two_runs(tagged_mis: Path, tmp_path: Path) -> None:
    files = [tagged_mis / f"mis_{s}.json" for s in ("easy", "hard", "real")]
    records = [r for f in files for r in json.loads(f.read_text())]
    responses = tmp_path / "model_x.jsonl"
    responses.write_text("".join(json.dumps(dict(r, response=f"Answer {r['id']}.")) + "\n" for r in records))
    runner = CliRunner()
    for name in ("cmp-a", "cmp-b"):
        result = runner.invoke(
            app,
            [
                "judge",
                str(responses),
                "--data",
                str(tagged_mis),
                "--judge",
                f"exact/{name}",
                "--out",
                str(tmp_path / name),
                "--fail-on-unknown",
                "100",
            ],
        )
        assert result.exit_code == 0, result.output
    out = tmp_path / "compare.json"
    result = runner.invoke(
        app,
        ["judge", "compare", str(tmp_path / "cmp-a"), str(tmp_path / "cmp-b"), "--out", str(out)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    (pair,) = report["pairs"]
    assert pair["n"] == 8 and report["labels"] == ["safety", "perception", "outcome"]
    # safety: A = U S S ? ? S U S, B = U S S S ? S S U -> observed 5/8; chance (2*2 + 4*5 + 2*1) / 64
    safety = pair["labels"]["safety"]
    assert safety["agreement"] == 62.5 and safety["kappa"] == round(7 / 19, 4)
    assert safety["confusion"]["Unsafe"] == {"Safe": 1, "Unsafe": 1, "unknown": 0}
    # outcome: counts A (attack 2, reasoning 2, refusal 1, unknown 2, halluc. 1), B (2, 2, 2, 1, 1)
    outcome = pair["labels"]["outcome"]
    assert outcome["agreement"] == 62.5 and outcome["kappa"] == round(9 / 17, 4)
    assert {d["uid"] for d in pair["disagreements"]} == {"easy/4", "hard/3", "real/1"}
    assert set(report["metrics"]) == set(report["runs"]) and len(report["runs"]) == 2
    assert "0.368" in result.output and "0.529" in result.output

    # the report finds the two judges of the same responses and shows their agreement
    from mis.report import build_report

    paths = build_report([tmp_path / "cmp-a", tmp_path / "cmp-b"], tmp_path / "report")
    (row,) = paths.agreement
    assert row["labels"]["safety"]["kappa"] == round(7 / 19, 4) and row["n"] == 8
    html = (tmp_path / "report" / "report.html").read_text()
    assert 'id="agreement"' in html and "0.368" in html and "0.529" in html
    assert "## Judge agreement" in (tmp_path / "report" / "leaderboard.md").read_text()


def test_compare_refuses_runs_of_different_responses(tmp_path: Path) -> None:
    for name, response in (("a", "one"), ("b", "two")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps({"benchmark": "mis", "metrics": {}}))
        row = {"uid": "hard/1", "response": response, "safety": "Safe", "perception": "L1", "outcome": "x"}
        (tmp_path / name / "samples.jsonl").write_text(json.dumps(row) + "\n")
    result = CliRunner().invoke(app, ["judge", "compare", str(tmp_path / "a"), str(tmp_path / "b")])
    assert result.exit_code == 3 and "field 'response' differs" in result.output
