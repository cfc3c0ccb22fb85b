"""docs/data.md runs as written: every ```python and ```bash block, in order, in a fresh folder.

```text and ```sh blocks (hub downloads, building a tiny model) are not run here. Bash lines may be
`mis ...` (run through the real CLI app) or `rm FILE`; a trailing `# exits N` sets the expected code.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mis.cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "data.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def test_docs_data_md_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    namespace: dict = {}
    ran = {"python": 0, "bash": 0}
    for lang, body in _BLOCK.findall(DOC.read_text()):
        if lang == "python":
            exec(compile(body, str(DOC), "exec"), namespace)  # noqa: S102 - our own docs
            ran["python"] += 1
        elif lang == "bash":
            for line in body.splitlines():
                command, _, comment = line.partition("#")
                if not command.strip():
                    continue
                expected = int(m.group(1)) if (m := re.search(r"exits (\d+)", comment)) else 0
                argv = shlex.split(command)
                if argv[0] == "rm":
                    Path(argv[1]).unlink()
                    continue
                assert argv[0] == "mis", f"docs/data.md: unsupported command in a bash block: {line}"
                result = runner.invoke(app, argv[1:], terminal_width=200)
                assert result.exit_code == expected, f"{line}\n{result.output}"
                if expected:
                    assert "image_path2" in result.output
            ran["bash"] += 1
    assert ran == {"python": 2, "bash": 1}
    printed = capsys.readouterr().out
    assert "swift 6 ['train', 'easy', 'hard']" in printed
