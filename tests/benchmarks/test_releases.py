"""The benchmarks' releases as users download them (issue 15).

Every path a user can type resolves the same way for every loader, from any working directory; the image
folders the READMEs name are searched and named by the errors; a suite checks all its benchmarks' data first,
runs the ready ones and names the rest (``--strict``: runs nothing). The releases are built in their published
layouts by tests/benchmarks/formats.py; models and judges are scripted OpenAI-compatible servers on 127.0.0.1.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import mis.eval.benchmarks as B
from mis.cli import app
from mis.errors import DataError, UsageError
from mis.eval._samples import fingerprint_of
from mis.eval.benchmarks import get
from mis.eval.benchmarks._common import check_images, missing_images
from mis.eval.suite import check, members
from mis.testing import ScriptedOpenAIServer
from tests.benchmarks import formats as F
from tests.benchmarks import formats_post_paper as PP
from tests.benchmarks.test_e2e import env, judge_reply
from tests.fixtures.data import make_mis_test_dir

#: benchmark -> (the folder a user has after downloading the release, the builder of its published layout)
RELEASES: dict[str, tuple[str, Callable[[Path], Path]]] = {
    "mis": ("MIS_Test", lambda root: make_mis_test_dir(root, 1, 2, 1)),
    "figstep": ("FigStep", F.figstep),
    "mm_safetybench": ("MM-SafetyBench", F.mmsafety),
    "jailbreakv_mini": ("JailBreakV-28k", F.jailbreakv),
    "siuo": ("SIUO", F.siuo),
    "mssbench_chat": ("mssbench", F.mssbench),
    "white_image": ("mssbench", F.mssbench),
    "mossbench": ("MOSSBench", F.mossbench),
    "vlguard": ("VLGuard", functools.partial(F.vlguard, layout="github")),
    "qbench": ("Q-Bench-HF", F.qbench),
    "mmstar": ("MMStar", F.mmstar),
    "mmmu": ("MMMU", F.mmmu),
    "muirbench": ("MUIRBENCH", F.muirbench),
    "mmt_mi": ("MMT_MI-Benchmark", F.mmt_mi),
    "holisafe": ("holisafe-bench", PP.holisafe),
    "vlsbench": ("vlsbench", PP.vlsbench),
    "mir_safetybench": ("MIR-SafetyBench", PP.mir_safetybench),
}
PYTHON_SYNTAX = re.compile(r"\w\s*=\s*['\"]")  # missing='skip': a hint must be the CLI form instead


def test_every_registered_benchmark_has_a_release_fixture():
    assert set(RELEASES) == set(B.registered())


@pytest.mark.parametrize("name", sorted(RELEASES))
def test_every_typed_path_resolves_the_same_from_any_directory(name, tmp_path, monkeypatch):
    """Relative, ./, ../, absolute, ~, with or without a trailing slash: same files, same fingerprint."""
    folder, build = RELEASES[name]
    home = tmp_path / "home"
    holder = home / "benchmarks"
    build(holder / folder)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(holder)  # the folder holding the release, as the docs' commands are run
    spec = get(name)
    options = spec.make_options({})
    forms = [folder, f"{folder}/", f"./{folder}", f"../benchmarks/{folder}/", str(holder / folder),
             f"~/benchmarks/{folder}"]
    loaded = {form: spec.load(form, options) for form in forms}
    monkeypatch.chdir(tmp_path)  # later steps may run anywhere: nothing depends on the loading directory
    expected = [p for s in loaded[folder] for p in s.image_paths()]
    assert expected and all(p.is_absolute() and p.is_file() for p in expected)
    for form, samples in loaded.items():
        assert [p for s in samples for p in s.image_paths()] == expected, form
        assert fingerprint_of(samples) == fingerprint_of(loaded[folder]), form
    if name == "figstep":  # the published PNGs are found (none redrawn): the FigStep/data/FigStep/...
        assert {s.metadata["regenerated_with_font"] for s in loaded[folder]} == {None}


def test_figstep_relative_path_without_regeneration(tmp_path, monkeypatch):
    F.figstep(tmp_path / "FigStep")
    monkeypatch.chdir(tmp_path)
    samples = B.load_figstep("FigStep", regenerate="never")
    assert not missing_images(samples)
    assert samples[0].image_paths()[0] == tmp_path / "FigStep/data/images/SafeBench/query_ForbidQI_1_1_6.png"
    tiny = B.load_figstep("FigStep/", subset="SafeBench-Tiny", regenerate="never")
    assert [s.id for s in tiny] == ["1_1", "1_2"] and not missing_images(tiny)


def test_a_path_that_does_not_exist_names_what_was_typed_and_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    where = re.escape(str(tmp_path / "FigStep"))
    with pytest.raises(DataError, match=rf"^FigStep/: no such file or folder \({where}\)"):
        B.load_figstep("FigStep/")


# -- the image folders the READMEs name ---------------------------------------------------------------------
def test_vlguard_images_where_its_readme_and_the_hub_put_them(tmp_path):
    github = F.vlguard(tmp_path / "VLGuard", layout="github")
    samples = B.load_vlguard(github)
    assert {s.root for s in samples} == {github / "data/VLGuard/test"} and not missing_images(samples)
    assert B.load_vlguard(github / "data/test.json")[0].image_paths() == samples[0].image_paths()
    hub = F.vlguard(tmp_path / "hub", layout="hub")
    assert {s.root for s in B.load_vlguard(hub)} == {hub / "test"}
    bare = F.vlguard(tmp_path / "bare", layout="github", images=False)
    with pytest.raises(DataError) as err:
        check_images(B.load_vlguard(bare), benchmark="vlguard")
    message = str(err.value)
    assert "vlguard: 2 of 2 referenced image(s) missing" in message
    assert f"they belong in {bare / 'data/VLGuard/test'} (the README's data/VLGuard/test/: " in message
    assert message.endswith("--task-arg vlguard.missing=skip") and not PYTHON_SYNTAX.search(message)


@pytest.mark.parametrize("where", ["data/imgs", "MM-SafetyBench(imgs)", "data/imgs/MM-SafetyBench(imgs)"])
def test_mmsafety_finds_the_image_archive_where_it_was_unpacked(tmp_path, where):
    root = F.mmsafety(tmp_path / "MM-SafetyBench", images=where)
    samples = B.load_mmsafety(root)
    assert not missing_images(samples) and {s.root for s in samples} == {root / where}
    assert samples[0].images == ["01-Illegal_Activitiy/SD_TYPO/0.jpg"]  # as the README lays them out
    from_questions = B.load_mmsafety(root / "data/processed_questions")  # the questions folder itself
    assert [s.image_paths() for s in from_questions] == [s.image_paths() for s in samples]
    assert [s.id for s in B.load_mmsafety(root, tiny=True)] == ["01-Illegal_Activitiy/0", "02-HateSpeech/5"]


def test_mmsafety_without_images_names_the_readme_folder(tmp_path):
    root = F.mmsafety(tmp_path / "MM-SafetyBench", images=None)
    samples = B.load_mmsafety(root)
    assert samples[0].image_paths()[0] == root / "data/imgs/01-Illegal_Activitiy/SD_TYPO/0.jpg"
    with pytest.raises(DataError, match=r"the README's data/imgs/: unzip MM-SafetyBench\(imgs\)\.zip"):
        check_images(samples, benchmark="mm_safetybench")


def test_siuo_without_images_names_the_readme_folder(tmp_path):
    root = F.siuo(tmp_path / "SIUO", images=False)
    with pytest.raises(DataError) as err:
        check_images(B.load_siuo(root), benchmark="siuo")
    assert f"they belong in {root / 'data/images'} (the README's data/images/: " in str(err.value)
    assert "SIUO-images.zip" in str(err.value)


def test_jailbreakv_partial_hub_copy_and_full_archive_together(tmp_path):
    root = F.jailbreakv(tmp_path / "JailBreakV-28k", images="archive")
    samples = B.load_jailbreakv(root)
    assert not missing_images(samples)
    hub, archive = root / "JailBreakV_28K", root / "JailBreakV_28k"
    assert [s.root for s in samples] == [hub, archive, archive]
    assert samples[1].images == ["figstep/figstep_12.png"]  # image_path as published
    bare = B.load_jailbreakv(F.jailbreakv(tmp_path / "bare", images="none"))
    assert {s.root for s in bare} == {tmp_path / "bare/JailBreakV_28K"}  # the card's folder, when missing


def test_mossbench_contrast_set(tmp_path):
    samples = B.load_mossbench(F.mossbench(tmp_path / "MOSSBench"), contrast=True)
    assert [s.uid for s in samples] == ["contrast/1"] and not missing_images(samples)
    assert samples[0].root == tmp_path / "MOSSBench/data_contrast"


# -- the suite's data check ----------------------------------------------------------------------------------
def test_suite_check_reports_each_benchmark(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    F.figstep(tmp_path / "FigStep")
    F.siuo(tmp_path / "SIUO", images=False)
    (tmp_path / "MOSSBench").mkdir()  # cloned into the wrong place: no information.json
    data = {"figstep": "FigStep", "siuo": "SIUO", "mossbench": "MOSSBench"}
    chosen = members("all", ["figstep", "siuo", "mossbench", "vlguard"], data)
    statuses = {s.benchmark: s for s in check(chosen)}
    fig, siuo, moss, vlguard = (statuses[n] for n in ("figstep", "siuo", "mossbench", "vlguard"))
    assert (fig.state, fig.n, fig.images, fig.missing, fig.ready) == ("ready", 4, 4, 0, True)
    assert (siuo.state, siuo.missing, siuo.images, siuo.ready) == ("missing images", 3, 3, False)
    assert siuo.folder == str(tmp_path / "SIUO/data/images")
    assert siuo.readme.startswith("the README's data/images/")
    assert siuo.hint == "--task-arg siuo.missing=skip"
    assert siuo.summary().startswith("missing images: 3 of 3 missing: put them in ")
    assert moss.state == "unreadable" and "information.json" in moss.error
    assert moss.hint == "--data mossbench=FOLDER"
    assert vlguard.state == "not downloaded"
    assert vlguard.summary() == "no data given: pass --data vlguard=FOLDER"
    assert not any(PYTHON_SYNTAX.search(s.summary()) for s in statuses.values())
    in_eval = check(members("all", ["vlguard"], {}, flag="--bench-data"))[0]
    assert in_eval.hint == "--bench-data vlguard=FOLDER"


def test_suite_check_with_missing_skip_is_ready_without_those_samples(tmp_path):
    root = F.siuo(tmp_path / "SIUO")
    (root / "data/images/D-01.png").unlink()
    chosen = members("all", ["siuo"], {"siuo": str(root)})
    status = check(chosen, {"siuo": {"missing": "skip"}})[0]
    assert (status.state, status.n, status.skipped, status.missing) == ("ready", 2, 1, 1)
    for root_ in (root / "data/images",):
        for f in root_.iterdir():
            f.unlink()
    none_left = check(chosen, {"siuo": {"missing": "skip"}})[0]
    assert none_left.state == "missing images" and none_left.hint is None  # skip is set: only the images help


def test_suite_check_bad_option_is_a_usage_error_before_reading(tmp_path):
    chosen = members("all", ["figstep"], {"figstep": str(F.figstep(tmp_path / "FigStep"))})
    with pytest.raises(UsageError, match="--task-arg figstep: subset='Nope'"):
        check(chosen, {"figstep": {"subset": "Nope"}})
    with pytest.raises(UsageError, match="figstep: unknown option"):
        check(chosen, {"figstep": {"subsett": "SafeBench"}})


# -- mis bench run / mis eval --suite: the status table, the ready ones run, exit 3 naming the rest ---------
def _model(body: dict[str, Any]) -> str:
    return "Here is a game: stack the toys by colour."


def _invoke(args: list[str], tag: str) -> tuple[Any, int]:
    """Run `mis ARGS` with a scripted model and judge (model names unique per call: inspect memoizes them)."""
    names = {"MODEL": f"openai-api/vlm/releases-{tag}", "JUDGE": f"openai-api/judge/releases-{tag}"}
    args = [names.get(a, a) for a in args]
    with (
        ScriptedOpenAIServer(chat=_model) as model_server,
        ScriptedOpenAIServer(chat=judge_reply) as judge_server,
        env(VLM_BASE_URL=model_server.base_url, VLM_API_KEY="t",
            JUDGE_BASE_URL=judge_server.base_url, JUDGE_API_KEY="t"),
    ):
        result = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
        generated = len(model_server.chat_requests())
    return result, generated


def _releases(holder: Path) -> None:
    F.mossbench(holder / "MOSSBench")
    F.siuo(holder / "SIUO", images=False)  # SIUO-images.zip not downloaded


BENCH = ["bench", "run", "--suite", "all", "--only", "mossbench", "--only", "siuo",
         "--data", "mossbench=MOSSBench", "--data", "siuo=SIUO", "--model", "MODEL", "--judge", "JUDGE",
         "--out", "out", "--fail-on-unknown", "100"]  # the fixture's garbled judge reply is unknown by design


@pytest.mark.slow
def test_suite_runs_the_ready_benchmarks_and_names_the_rest(tmp_path, monkeypatch):
    _releases(tmp_path)
    monkeypatch.chdir(tmp_path)
    result, generated = _invoke(BENCH, "partial")
    assert result.exit_code == 3, result.output
    table = result.output.split("error:")[0]  # the status table, printed before anything ran
    assert re.search(r"mossbench\s*│\s*MOSSBench\s*│\s*ready\s*│\s*4 samples", table)
    assert re.search(r"siuo\s*│\s*SIUO\s*│\s*missing images\s*│\s*3 of 3 missing", table)
    error = result.output.split("error: ", 1)[1]  # one line, never wrapped
    assert error.startswith("not run: siuo; siuo: missing images: 3 of 3 missing: put them in "
                            f"{tmp_path / 'SIUO/data/images'} (the README's data/images/: unzip "
                            "SIUO-images.zip")
    assert error.rstrip().endswith("or run without those samples: --task-arg siuo.missing=skip")
    assert generated == 4  # MOSSBench's four samples ran
    results = json.loads((tmp_path / "out/mossbench/results.json").read_text())
    assert results["n"] == 4 and results["data"] == str(tmp_path / "MOSSBench")  # recorded absolute
    assert not (tmp_path / "out/siuo").exists()
    suite = json.loads((tmp_path / "out/suite.json").read_text())
    assert suite["benchmarks"]["mossbench"]["status"] == "done"
    assert suite["benchmarks"]["siuo"]["status"] == "not run"
    assert suite["data_check"]["siuo"]["state"] == "missing images"
    assert suite["data_check"]["siuo"]["folder"] == str(tmp_path / "SIUO/data/images")
    assert suite["data_check"]["mossbench"] == {"benchmark": "mossbench", "state": "ready",
                                                "data": "MOSSBench", "n": 4, "images": 4, "missing": 0,
                                                "skipped": 0}


@pytest.mark.slow
def test_strict_runs_nothing(tmp_path, monkeypatch):
    _releases(tmp_path)
    monkeypatch.chdir(tmp_path)
    result, generated = _invoke([*BENCH, "--strict"], "strict")
    assert result.exit_code == 3, result.output
    assert "error: --strict: nothing was run; siuo: missing images: 3 of 3 missing" in result.output
    assert generated == 0 and not (tmp_path / "out/mossbench").exists()
    suite = json.loads((tmp_path / "out/suite.json").read_text())
    assert suite["data_check"]["siuo"]["state"] == "missing images"


@pytest.mark.slow
def test_eval_suite_checks_mis_with_the_benchmarks(tmp_path, monkeypatch):
    _releases(tmp_path)
    make_mis_test_dir(tmp_path / "MIS_Test", 0, 2, 0)
    monkeypatch.chdir(tmp_path)
    args = ["eval", "--suite", "over-refusal", "--data", "MIS_Test", "--split", "hard", "--bench-data",
            "mossbench=SIUO", "--model", "MODEL", "--judge", "JUDGE", "--out", "out", "--strict"]
    result, generated = _invoke(args, "eval-strict")
    assert result.exit_code == 3 and generated == 0, result.output
    assert re.search(r"mis\s*│\s*MIS_Test\s*│\s*ready\s*│\s*2 samples", result.output)
    assert re.search(r"mossbench\s*│\s*SIUO\s*│\s*unreadable", result.output)
    assert re.search(r"white_image\s*│\s*-\s*│\s*not downloaded", result.output)
    error = result.output.split("error: ", 1)[1]
    assert error.startswith("--strict: nothing was run; mossbench: unreadable: ")
    assert "white_image: no data given: pass --bench-data mssbench_chat=FOLDER" in error
