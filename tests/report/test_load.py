"""Reading run folders: schema 2 and 0.1.0, kinds as declared (never guessed from names), clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mis.report import ReportError, load_runs
from mis.report._load import find_run_dirs
from tests.report.schema import items, write_benchmark_legacy, write_mis_legacy, write_mis_v2

pytestmark = pytest.mark.xdist_group("report")
DATA = Path(__file__).parent / "data"
MIXED = {"easy": ["attack_success", "refusal"], "hard": ["attack_success", "safe_reasoning", "unknown"],
         "benign": ["refusal", "safe_reasoning"], "white": ["hallucination", "refusal"]}


def _items(spec: dict[str, list[str]]) -> dict:
    out, start = {}, 0
    for split, outcomes in spec.items():
        out[split] = items(split, outcomes, start)
        start += len(outcomes)
    return out


def test_schema2_splits_keep_their_declared_kinds_and_the_mixed_aggregate_is_dropped(tmp_path: Path) -> None:
    write_mis_v2(tmp_path / "run", "m", _items(MIXED))
    [run] = load_runs([tmp_path / "run"])
    got = {r.split: (r.kind, r.headline.metric if r.headline else None) for r in run.results}
    assert got == {"easy": ("attack", "asr"), "hard": ("attack", "asr"), "benign": ("over_refusal", "rr"),
                   "white": ("over_refusal", "rr")}
    hard = next(r for r in run.results if r.split == "hard")
    assert hard.n == 3 and hard.n_unknown == 1 and hard.metrics["asr"] == 33.33
    assert hard.judge_id == "openai/gpt-4o [paper]" and hard.schema_version == 2


def test_schema2_aggregate_over_same_kind_splits_is_kept_as_all(tmp_path: Path) -> None:
    write_mis_v2(tmp_path / "run", "m", _items({"easy": ["attack_success"], "hard": ["refusal"]}))
    [run] = load_runs([tmp_path / "run"])
    assert [(r.split, r.kind, r.metrics["asr"]) for r in run.results] == [
        ("easy", "attack", 100.0), ("hard", "attack", 0.0), ("all", "attack", 50.0)]


def test_a_name_never_decides_a_kind(tmp_path: Path) -> None:
    """0.1.0 results without a kind are 'other', even when the name looks like a known benchmark."""
    write_benchmark_legacy(tmp_path / "a", "figstep", None, "m", {"asr": 10.0})  # type: ignore[arg-type]
    (tmp_path / "a" / "results.json").write_text(json.dumps({"task": "figstep", "model": "m",
                                                             "metrics": {"asr": 10.0}}))
    write_benchmark_legacy(tmp_path / "b", "whatever_safety", "safety", "m", {"asr": 20.0})
    write_benchmark_legacy(tmp_path / "c", "mossbench", "over_refusal", "m", {"refusal_rate": 30.0})
    write_benchmark_legacy(tmp_path / "d", "mmstar", "general", "m", {"accuracy": 61.2, "score": 61.2})
    runs = load_runs([tmp_path])
    got = {r.benchmark: (r.kind, r.headline) for run in runs for r in run.results}
    assert got["figstep"] == ("other", None)
    assert got["whatever_safety"][0] == "attack" and got["whatever_safety"][1].metric == "asr"
    assert got["mossbench"][0] == "over_refusal" and got["mossbench"][1].higher_is_better is False
    assert got["mmstar"][0] == "general" and got["mmstar"][1].metric == "accuracy"


def test_legacy_mis_controls_are_over_refusal_and_the_all_row_is_dropped(tmp_path: Path) -> None:
    write_mis_legacy(tmp_path / "run", "m", _items(MIXED))
    [run] = load_runs([tmp_path / "run"])
    assert {r.split: r.kind for r in run.results} == {"easy": "attack", "hard": "attack",
                                                      "benign": "over_refusal", "white": "over_refusal"}
    benign = next(r for r in run.results if r.split == "benign")
    assert benign.headline is not None and benign.headline.metric == "rr" and benign.headline.value == 50.0
    assert all(r.schema_version == 1 for r in run.results)


def test_legacy_single_split_task(tmp_path: Path) -> None:
    write_mis_legacy(tmp_path / "run", "m", _items({"hard": ["attack_success", "refusal"]}))
    [run] = load_runs([tmp_path / "run"])
    [r] = run.results
    assert (r.benchmark, r.task, r.split, r.kind) == ("mis", "mis_hard", "hard", "attack")
    assert r.metrics["asr"] == 50.0


def test_real_outputs_load(tmp_path: Path) -> None:
    """Folders mis itself wrote: 0.1.0 MIS-mini and suite runs, and a schema-2 run."""
    runs = load_runs([DATA / "v010_demo", DATA / "v010_suite", DATA / "v2_preview_demo"])
    by_dir = {run.path.relative_to(DATA).as_posix(): run for run in runs}
    assert set(by_dir) == {"v010_demo/base", "v010_demo/mirage", "v010_suite/mis", "v010_suite/mmstar",
                           "v2_preview_demo/base"}
    for key in ("v010_demo/base", "v2_preview_demo/base"):
        kinds = {r.split: r.kind for r in by_dir[key].results}
        assert kinds == {"easy": "attack", "hard": "attack", "benign": "over_refusal",
                         "white": "over_refusal"}
        assert len(by_dir[key].samples) == 24
    [mis] = by_dir["v010_suite/mis"].results
    assert (mis.split, mis.kind) == ("hard", "attack")
    [mmstar] = by_dir["v010_suite/mmstar"].results
    assert mmstar.kind == "general" and mmstar.headline is not None and mmstar.headline.value == 50.0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("benchmark"), "field 'benchmark' is missing"),
        (lambda d: d.update(kind="safety"),
         "field 'kind' is 'safety'; expected attack, over_refusal or general"),
        (lambda d: d["splits"]["benign"].pop("kind"), "splits.benign: field 'kind' is None"),
        (lambda d: d.update(headline={"metric": "asr", "value": "high", "higher_is_better": False}),
         "field 'headline'.value must be a finite number"),
        (lambda d: d.update(schema_version=3), "field 'schema_version' is 3"),
        (lambda d: d["splits"]["hard"]["metrics"].update(asr="n/a"),
         "splits.hard: field 'metrics'.asr must be a number"),
        (lambda d: d.pop("model"), "field 'model' is missing"),
    ],
)
def test_bad_schema2_input_names_file_and_field(tmp_path: Path, edit, message: str) -> None:
    run = write_mis_v2(tmp_path / "run", "m", _items(MIXED))
    data = json.loads((run / "results.json").read_text())
    edit(data)
    (run / "results.json").write_text(json.dumps(data))
    with pytest.raises(ReportError) as err:
        load_runs([run])
    assert str(run / "results.json") in str(err.value) and message in str(err.value)


def test_bad_legacy_and_sample_input(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text("{not json")
    with pytest.raises(ReportError, match=r"results.json: not valid JSON \(line 1"):
        load_runs([run])
    (run / "results.json").write_text(json.dumps({"task": "mis_hard", "model": "m", "metrics": {"asr": 1.0}}))
    with pytest.raises(ReportError, match="lacks rsr, hr, rr, unknown"):
        load_runs([run])
    write_mis_legacy(tmp_path / "ok", "m", _items({"hard": ["refusal", "refusal", "refusal"]}))
    lines = (tmp_path / "ok" / "samples.jsonl").read_text().splitlines()
    lines[2] = json.dumps({"uid": "hard/2", "images": "object1.png"})
    (tmp_path / "ok" / "samples.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ReportError, match=r"samples.jsonl:3: sample hard/2: field 'images' must be a list"):
        load_runs([tmp_path / "ok"])


def test_run_folders_are_found_below_and_logs_ignored(tmp_path: Path) -> None:
    shutil.copytree(DATA / "v010_suite", tmp_path / "suite")
    (tmp_path / "suite" / "mis" / "logs" / "x").mkdir(parents=True)
    (tmp_path / "suite" / "mis" / "logs" / "x" / "results.json").write_text("{}")
    found = find_run_dirs([tmp_path, tmp_path / "suite" / "mis"])
    assert [p.name for p in found] == ["mis", "mmstar"]
    with pytest.raises(ReportError, match="not a folder"):
        find_run_dirs([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportError, match="no results.json in it or below it"):
        find_run_dirs([tmp_path / "empty"])
