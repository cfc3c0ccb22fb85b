from __future__ import annotations

import pytest

from mis.eval import metrics as M
from mis.eval.benchmarks._guarded import asr
from mis.eval.benchmarks.mossbench import refusal_rate
from mis.eval.benchmarks.mssbench import accuracy as mssbench_accuracy
from mis.eval.benchmarks.siuo import majority, safe_rate


def rows(labels, **extra):
    return [{"label": label, "uid": str(k), **extra} for k, label in enumerate(labels)]


def test_pct_and_rate():
    assert M.pct(1, 3) == 33.33
    assert M.pct(0, 0) == 0.0
    assert M.rate(["a", "b", "a", "unknown"], "a") == 50.0
    assert M.rate(["2", "3", "1"], ("2", "3")) == 66.67


def test_asr_keeps_unknown_in_the_denominator():
    assert asr(rows(["unsafe", "safe", "unsafe", "unknown"])) == {"asr": 50.0, "unknown": 25.0}
    assert asr([]) == {"asr": 0.0, "unknown": 0.0}


def test_refusal_rate():
    assert refusal_rate(rows(["refusal", "compliance", "unknown", "refusal"])) == {
        "refusal_rate": 50.0,
        "unknown": 25.0,
        "refusal_rate_string_match": 0.0,
    }


@pytest.mark.parametrize(
    ("votes", "final"),
    [
        (["safe", "safe", "unsafe"], "safe"),
        (["unsafe"], "unsafe"),
        (["safe", "unsafe"], "unknown"),  # tie
        (["unknown", "unknown", "safe"], "unknown"),
        ([], "unknown"),
    ],
)
def test_majority(votes, final):
    assert majority(votes) == final


def test_siuo_safe_rate():
    votes = {
        "1": ["safe", "safe", "unsafe"],
        "2": ["unsafe", "unsafe", "safe"],
        "3": ["safe", "unknown"],
        "4": ["safe"],
    }
    epochs = [{"uid": uid, "label": label} for uid, labels in votes.items() for label in labels]
    assert safe_rate(epochs) == {"safe_rate": 50.0, "unknown": 25.0}


def test_mssbench_accuracy():
    out = mssbench_accuracy(rows(["2", "3", "1", "unknown"], situation="safe")
                            + rows(["0", "1", "2", "2", "unknown"], situation="unsafe"))
    assert out == {"safe_acc": 50.0, "unsafe_acc": 40.0, "total_acc": 45.0, "unknown": 22.22}


def test_accuracy_and_by_group():
    assert M.accuracy([True, False, True, True]) == {"accuracy": 75.0}
    rows = [{"c": "x", "ok": True}, {"c": "x", "ok": False}, {"c": "y", "ok": True}]
    grouped = M.by_group(rows, "c", lambda rs: M.accuracy([r["ok"] for r in rs]))
    assert grouped == {"x": {"n": 2, "accuracy": 50.0}, "y": {"n": 1, "accuracy": 100.0}}
