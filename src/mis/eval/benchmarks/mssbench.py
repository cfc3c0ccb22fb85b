"""MSSBench chat (HF ``kzhou35/mssbench``): the same query in a safe and in an unsafe situation.

``combined.json`` = ``{"chat": [...], "embodied": [...]}``; each chat entry has ``safe_image_path``,
``unsafe_image_path`` (relative to ``chat/``), ``unsafe_image``, ``intent``, ``Type`` and ``queries``.
Each (entry, query) is evaluated twice with the same prompt (``PROMPT_CHAT_IF`` + query): once with
the safe image (split ``safe``) and once with the unsafe image (split ``unsafe``). The text judge
sees only the response and picks a class 0-3; safe accuracy = class 2/3 on safe images, unsafe
accuracy = class 0/1 on unsafe images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mis.data._schema import Sample
from mis.eval.benchmarks._common import (
    BenchmarkDataError,
    fail,
    find_file,
    read_json,
    require,
    resolve_source,
    template,
)

SITUATIONS = ("safe", "unsafe")


def chat_prompt(query: str) -> str:
    """MSSBench's instruction-following chat prompt (``PROMPT_CHAT_IF``) followed by the query."""
    return template("mssbench_chat_if.txt") + query


def load_mssbench(source: str | Path, *, situations: tuple[str, ...] = SITUATIONS) -> list[Sample]:
    """Chat units as samples: id ``<entry>_<query>``, split ``safe``/``unsafe`` (one sample per image)."""
    bad = [s for s in situations if s not in SITUATIONS]
    if bad:
        raise ValueError(f"situations {bad}: expected safe and/or unsafe")
    root = resolve_source(source, allow_patterns=["combined.json", "chat/**"])
    path = find_file(root, ["combined.json", "combine.json"], "MSSBench combined.json")
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("chat"), list):
        raise fail(path, "(file)", "chat", 'expected {"chat": [...], "embodied": [...]}')
    chat_dir = path.parent / "chat"
    samples: list[Sample] = []
    for e, entry in enumerate(data["chat"]):
        if not isinstance(entry, dict):
            raise BenchmarkDataError(f"{path}: chat entry #{e}: expected an object")
        queries = require(entry, "queries", path, f"chat #{e}", list)
        paths = {s: require(entry, f"{s}_image_path", path, f"chat #{e}") for s in SITUATIONS}
        kind = require(entry, "Type", path, f"chat #{e}")
        for q, query in enumerate(queries):
            if not isinstance(query, str) or not query.strip():
                raise fail(path, f"chat #{e}", f"queries[{q}]", "expected a non-empty string")
            for situation in situations:
                samples.append(
                    Sample(
                        id=f"{e}_{q}",
                        split=situation,
                        question=query,
                        images=[str(chat_dir / paths[situation])],
                        category=kind,
                        metadata={
                            "situation": situation,
                            "entry": e,
                            "query_index": q,
                            "intent": entry.get("intent"),
                            "unsafe_image": entry.get("unsafe_image"),
                            "Type": kind,
                        },
                    )
                )
    return samples


def mssbench_task(
    data: str,
    *,
    situations: str = "safe,unsafe",
    judge: str | None = None,
    judge_base_url: str | None = None,
    image_mode: str = "original",
    missing: str = "error",
    limit: int | None = None,
    max_tokens: int = 1024,
) -> Any:
    """MSSBench chat, both situations by default, scored by the MSSBench rubric + refusal string match."""
    from mis.eval.benchmarks._tasks import benchmark_task
    from mis.eval.benchmarks.scorers import mssbench_judge, refusal_match

    chosen = tuple(s.strip() for s in situations.split(",") if s.strip())
    return benchmark_task(
        "mssbench_chat",
        load_mssbench(data, situations=chosen),
        [mssbench_judge(judge, judge_base_url), refusal_match()],
        image_mode=image_mode,
        missing=missing,
        limit=limit,
        max_tokens=max_tokens,
        text_of=lambda s: chat_prompt(s.question),
        metadata={"situations": list(chosen)},
    )
