from __future__ import annotations

import pytest

from mis.judges.mcq import (
    extract_letter,
    mcq_prompt,
    open_answer_correct,
    parse_embedded_options,
)

OPTS = ["red", "blue", "green", "yellow"]


@pytest.mark.parametrize(
    ("response", "letter"),
    [
        ("B", "B"),
        ("b", "B"),
        ("(C)", "C"),
        ("**D**", "D"),
        ("A.", "A"),
        ("The answer is D.", "D"),
        ("Answer: (A)", "A"),
        ("The correct option is b", "B"),
        ("I first thought A, but the answer is C", "C"),
        ("B. blue", "B"),
        ("(B) blue", "B"),
        ("I think C is right", "C"),
        ("It is blue", "B"),  # option text
        ("A cat is red or blue", None),  # "A" as a word, two option texts: ambiguous
        ("B and C", None),
        ("E", None),  # not an option letter
        ("", None),
    ],
)
def test_extract_letter(response, letter):
    assert extract_letter(response, OPTS) == letter


def test_extract_letter_respects_option_count():
    assert extract_letter("C", ["yes", "no"]) is None
    assert extract_letter("I", ["a"] * 9) == "I"


def test_prompts_and_embedded_options():
    assert mcq_prompt("Q?", ["x", "y"]).splitlines() == [
        "Q?",
        "A. x",
        "B. y",
        "Answer with the option's letter from the given choices directly.",
    ]
    assert parse_embedded_options("Which?\nOptions: A: cat, B: dog, C: a red fish, D: none") == [
        "cat",
        "dog",
        "a red fish",
        "none",
    ]
    assert parse_embedded_options("no options here") == []


@pytest.mark.parametrize(
    ("response", "answer", "ok"),
    [
        ("There are 2 shapes.", "2", True),
        ("About 2.5", "2", False),
        ("3.14159", "3.14", True),
        ("It is Paris.", "paris", True),
        ("Rome", "Paris", False),
    ],
)
def test_open_answer(response, answer, ok):
    assert open_answer_correct(response, answer) is ok
