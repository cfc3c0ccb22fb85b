"""General data: exactly the paper's 500 samples by default, a warning without any, conversations whole."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from mis.train import TrainDataError
from mis.train._data import PAPER_GENERAL_SAMPLES, load_rows, mix_rows, warn_without_general_data
from tests.fixtures.data import make_png


def _rows(n: int, prefix: str) -> list[dict]:
    return [{"uid": f"{prefix}/{i}", "images": [], "question": "q", "target": "t", "source": prefix}
            for i in range(n)]


def test_exactly_500_general_samples_where_a_ratio_gave_490() -> None:
    main, general = _rows(3927, "mis"), _rows(900, "general")
    mixed = mix_rows(main, general, None, seed=0, samples=PAPER_GENERAL_SAMPLES)
    assert sum(r["source"] == "general" for r in mixed) == 500 == PAPER_GENERAL_SAMPLES
    assert sum(r["source"] == "general" for r in mix_rows(main, general, 0.111, seed=0)) == 490  # why
    assert mixed == mix_rows(main, general, None, seed=0, samples=500)  # deterministic for a seed
    with pytest.raises(TrainDataError, match="general_samples 500 asks for more general samples than the 90"):
        mix_rows(main, _rows(90, "general"), None, seed=0, samples=500)


def test_a_run_without_general_data_warns(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="mis.train._data"):
        warn_without_general_data(500, None)
    assert "no --general-data given" in caplog.text and "500 general samples" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mis.train._data"):
        warn_without_general_data(0, None)  # VLGuard-P / Textual SFT: none on purpose
    assert caplog.text == ""


def test_multi_turn_general_samples_are_kept_whole(tmp_path: Path) -> None:
    """An M4-Instruct-style multi-turn record trains on every answer, not only the first exchange."""
    make_png(tmp_path / "a.png", 0, 1)
    make_png(tmp_path / "b.png", 0, 2)
    record = {"id": "g1", "image": ["a.png", "b.png"], "conversations": [
        {"from": "human", "value": "<image>\n<image>\nWhat shapes are these?"},
        {"from": "gpt", "value": "A square and a circle."},
        {"from": "human", "value": "Which is red?"},
        {"from": "gpt", "value": "The square."},
    ]}
    (tmp_path / "general.json").write_text(json.dumps([record]))
    (row,) = load_rows(str(tmp_path / "general.json"))
    assert [t["role"] for t in row["turns"]] == ["user", "assistant", "user", "assistant"]
    assert row["turns"][-1]["text"] == "The square." and row["target"] == "A square and a circle."
    from mis.train._data import build_messages

    messages = build_messages(row)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert [b["type"] for b in messages[0]["content"]] == ["image", "image", "text"]
    assert messages[2]["content"] == [{"type": "text", "text": "Which is red?"}]
    assert [m["role"] for m in build_messages(row, with_target=False)] == ["user", "assistant", "user"]
