"""Every reference in README.md and docs/ resolves: links, and the files and pages the text names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
#: Files named in backticks: `docs/x.md`, `src/mis/...`, `perf/...`, `tests/...`, `x.md`.
NAMED = re.compile(r"`((?:docs|src|perf|tests)/[^`\s*<>{}]+|[A-Za-z0-9_-]+\.md)`")


#: Files the commands write (named in the docs as outputs, not as files of the repository).
OUTPUTS = {"leaderboard.md"}


def _anchors(page: Path) -> set[str]:
    heads = re.findall(r"^#+\s+(.+)$", page.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_resolve(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    broken = []
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_named_files_exist(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    missing = []
    for name in NAMED.findall(text):
        name = name.rstrip(".,:;")
        if name in OUTPUTS:
            continue
        name, _, test = name.partition("::")  # tests/x.py::test_name: the file, and a test of that name in it
        source = ROOT / name
        if test and source.is_file() and f"def {test}(" not in source.read_text(encoding="utf-8"):
            missing.append(f"{name}::{test}")
            continue
        candidates = [ROOT / name, ROOT / "docs" / name]
        if not any(c.exists() for c in candidates) and not any(ROOT.glob(name)):
            missing.append(name)
    assert not missing, f"{page.name}: names files that do not exist: {missing}"
