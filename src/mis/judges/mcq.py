"""Multiple-choice prompting and answer-letter extraction, shared by the general benchmarks.

Extraction, in order (the first rule that yields exactly one valid letter wins; valid letters are
those of the question's options):
1. the whole reply is a letter (any case), optionally wrapped: ``B``, ``(B)``, ``B.``, ``**B**``, ``[B]``;
2. an explicit statement, last one wins: ``answer is B``, ``Answer: (B)``, ``option B``, ``choice B``;
3. the reply starts with a letter followed by a delimiter: ``B. The red one``, ``(B) red``, ``B: red``;
4. exactly one distinct valid letter appears as a standalone token (``I think B``);
5. exactly one option's text appears in the reply (case-insensitive, whole option).
Otherwise there is no answer (scored incorrect, recorded as ``None``). A reply naming several
letters without an explicit statement is ambiguous and gets no answer rather than a guess.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

from inspect_ai.scorer import CORRECT, INCORRECT, Score, Target
from inspect_ai.solver import TaskState

from mis.judges._base import Judge, identity, score

LETTERS = string.ascii_uppercase
INSTRUCTION = "Answer with the option's letter from the given choices directly."

_WRAPPED = re.compile(r"^[\s\*\(\[\"']*([A-Za-z])[\s\*\)\]\"'.:]*$")
_STATED = re.compile(
    r"(?:answer|option|choice)\s*(?:is|would be|should be)?\s*[:：]?\s*[\*\(\[\"']*\s*([A-Z])\b(?![\w'])",
    re.IGNORECASE,
)
_LEADING = re.compile(r"^[\s\*\(\[]*([A-Z])\s*[\)\]\.:：,]")
_TOKEN = re.compile(r"(?<![\w'’])([A-Z])(?![\w'’])")


def letters_for(n: int) -> str:
    """The first ``n`` option letters."""
    if not 1 <= n <= len(LETTERS):
        raise ValueError(f"{n} options: expected 1..{len(LETTERS)}")
    return LETTERS[:n]


def format_options(options: Sequence[str]) -> str:
    """``A. first`` / ``B. second`` ... one per line (lmms-eval / LLaVA convention)."""
    return "\n".join(f"{LETTERS[k]}. {opt}" for k, opt in enumerate(options))


def mcq_prompt(question: str, options: Sequence[str], instruction: str = INSTRUCTION) -> str:
    """Question, lettered options, then the answer-format instruction."""
    parts = [question.strip()]
    if options:
        parts.append(format_options(options))
    parts.append(instruction)
    return "\n".join(parts)


def extract_letter(response: str, options: Sequence[str]) -> str | None:
    """The answer letter of ``response`` for a question with ``options`` (rules in the module doc)."""
    valid = letters_for(len(options)) if options else ""
    text = response.strip()
    if not text or not valid:
        return None
    m = _WRAPPED.match(text)
    if m and m.group(1).upper() in valid:
        return m.group(1).upper()
    stated = [x.upper() for x in _STATED.findall(text) if x.upper() in valid]
    if stated:
        return stated[-1]
    m = _LEADING.match(text)
    if m and m.group(1) in valid:
        return m.group(1)
    tokens = {
        t for t in _TOKEN.findall(text) if t in valid and (t not in ("A", "I") or _is_option_letter(t, text))
    }
    if len(tokens) == 1:
        return tokens.pop()
    lowered = text.lower()
    hits = [LETTERS[k] for k, opt in enumerate(options) if opt.strip() and opt.strip().lower() in lowered]
    if len(hits) == 1:
        return hits[0]
    return None


def _is_option_letter(letter: str, text: str) -> bool:
    """``A``/``I`` are also English words; count them only when marked as letters (``(A)``, ``A.``)."""
    return re.search(rf"(?:\({letter}\)|\b{letter}[\.\)]|\b{letter}$)", text) is not None


def parse_embedded_options(question: str) -> list[str]:
    """Options written inside the question text (MMStar): ``A: x, B: y`` or ``A. x`` lines."""
    m = re.search(r"Options?\s*:\s*(.*)$", question, re.DOTALL | re.IGNORECASE)
    body = m.group(1) if m else question
    parts = re.split(r"(?:^|[\s,;])\(?([A-H])[\):\.]\s+", body)
    found: dict[str, str] = {}
    for k in range(1, len(parts) - 1, 2):
        found.setdefault(parts[k], parts[k + 1].strip().rstrip(",;").strip())
    letters = [ch for ch in LETTERS if ch in found]
    if not letters or letters != list(LETTERS[: len(letters)]):
        return []
    return [found[ch] for ch in letters]


_NUM = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")


def open_answer_correct(response: str, answer: str) -> bool:
    """MMMU open questions: a number matches any number in the reply, text a substring.

    Numbers compare with a relative tolerance of 1e-2 (like MMMU's parser rounding); text answers
    match case-insensitively as a substring of the reply.
    """
    answer = answer.strip()
    nums = _NUM.findall(answer)
    if nums and _NUM.fullmatch(answer.replace(" ", "")):
        target = float(nums[0].replace(",", ""))
        for x in _NUM.findall(response):
            value = float(x.replace(",", ""))
            if abs(value - target) <= 1e-2 * max(1.0, abs(target)):
                return True
        return False
    return bool(answer) and answer.lower() in response.lower()


def mcq_match() -> Judge:
    """Exact match of the extracted answer letter against the target (MMMU open questions: number/text)."""
    ident = identity("exact-match", "mcq-letter", None)

    async def run(state: TaskState, target: Target) -> Score:
        response = state.output.completion
        options = list(state.metadata.get("options") or [])
        if state.metadata.get("question_type") == "open":
            ok = open_answer_correct(response, target.text)
            label = CORRECT if ok else INCORRECT
            return score(label, label, response, ident, explanation=response, extracted=None)
        letter = extract_letter(response, options or ["", "", "", ""])
        label = CORRECT if letter is not None and letter == target.text.strip().upper() else INCORRECT
        return score(label, label, response, ident, explanation=response, extracted=letter)

    return Judge(identity=ident, scorer=run, metadata_keys=("extracted",))
