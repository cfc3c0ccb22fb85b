"""docs/benchmarks.md runs as written: every `mis bench run` command from the folder holding its release.

The releases are built in their published layouts (tests/benchmarks/formats.py) under the folder names the
page's commands use; the model, judge and guard are scripted OpenAI-compatible servers on 127.0.0.1 standing
in for the page's MODEL, JUDGE and GUARD placeholders.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mis.cli import app
from mis.eval import registered
from mis.eval.benchmarks._common import image_release
from mis.eval.suite import SUITES
from mis.testing import ScriptedOpenAIServer
from tests.benchmarks.test_e2e import env, judge_reply
from tests.benchmarks.test_releases import RELEASES

DATA_KEY = {name: spec.key for name, spec in registered().items() if name != "mis"}

DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
TEXT = DOC.read_text()
COMMANDS = re.findall(r"`(mis bench run [^`]+)`", TEXT)
PYTHON = re.findall(r"```python\n(.*?)```", TEXT.split("## Python", 1)[1], re.S)


def _parts(command: str) -> tuple[list[str], str, str, str]:
    args = shlex.split(command)[2:]
    only = args[args.index("--only") + 1]
    key, folder = args[args.index("--data") + 1].split("=", 1)
    return args, only, key, folder


def test_every_benchmark_has_a_command():
    only = {_parts(c)[1] for c in COMMANDS}
    assert only == set(DATA_KEY)


@pytest.mark.parametrize("command", COMMANDS)
def test_doc_command_without_its_release_is_a_clear_error(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args, only, key, _ = _parts(command)
    suite = args[args.index("--suite") + 1]
    assert only in SUITES[suite]
    assert [args[k + 1].split("=", 1)[0] for k, a in enumerate(args) if a == "--data"] == [DATA_KEY[only]]
    names = {"MODEL": "openai-api/vlm/x", "JUDGE": "openai-api/judge/x", "GUARD": "openai-api/judge/g"}
    with env(VLM_API_KEY="t", JUDGE_API_KEY="t"):  # the preflight passes: the data is what is missing
        result = CliRunner().invoke(app, ["bench", *[names.get(a, a) for a in args]])
    assert result.exit_code == 3, result.output  # parsed and routed; stops at the absent data folder
    assert "no such file or folder" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_doc_command_runs_from_the_folder_holding_the_release(command, tmp_path, monkeypatch):
    args, only, key, folder = _parts(command)
    release_folder, build = RELEASES[only]
    assert folder == release_folder  # the page's --data is the folder its download step leaves
    build(tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    tag = f"docs-{only}"  # unique names: inspect memoizes model instances per name
    names = {"MODEL": f"openai-api/vlm/{tag}", "JUDGE": f"openai-api/judge/{tag}",
             "GUARD": f"openai-api/judge/{tag}-guard"}
    with (
        ScriptedOpenAIServer(chat=lambda body: "I cannot help with that.") as model_server,
        ScriptedOpenAIServer(chat=judge_reply) as judge_server,
        env(VLM_BASE_URL=model_server.base_url, VLM_API_KEY="t",
            JUDGE_BASE_URL=judge_server.base_url, JUDGE_API_KEY="t"),
    ):
        args = [names.get(a, a) for a in args] + ["--fail-on-unknown", "100"]  # garbled replies: unknown
        result = CliRunner().invoke(app, ["bench", *args])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "OUT" / only / "results.json").read_text())
    assert results["n"] > 0 and results["data"] == str(tmp_path / folder)
    check = json.loads((tmp_path / "OUT/suite.json").read_text())["data_check"][only]
    assert check["state"] == "ready" and check["missing"] == 0


def test_the_page_names_each_readme_image_folder():
    for name in registered():
        release = image_release(name)
        if release is not None and name != "mis":
            assert release.folder in TEXT, name


def test_python_data_check_runs_as_written(tmp_path, monkeypatch, capsys):
    from tests.benchmarks import formats as F

    F.figstep(tmp_path / "FigStep")
    F.siuo(tmp_path / "SIUO", images=False)
    monkeypatch.chdir(tmp_path)
    exec(compile(PYTHON[0], "docs/benchmarks.md[python 0]", "exec"), {})  # noqa: S102 - the documented code
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "figstep ready ready: 4 samples"
    assert lines[1].startswith("siuo missing images missing images: 3 of 3 missing: put them in ")
    compile(PYTHON[1], "docs/benchmarks.md[python 1]", "exec")  # needs a model and a judge: compiled only


def test_list_command():
    result = CliRunner().invoke(app, ["bench", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "white_image" in result.output and "mssbench_chat" in result.output
