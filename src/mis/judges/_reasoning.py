"""A reasoning model's final answer: what judges that the release strips reasoning for are shown.

MIR-SafetyBench's ``harmbench_judge.py`` (``extract_answer_only``) judges only the answer part of a
reasoning model's output: the text inside ``<answer>...</answer>`` (to the end when it is not closed), else
what follows the last ``</think>``, else what follows Kimi's last ``◁/think▷``, else the whole text; always
stripped of surrounding whitespace. The full response stays in samples.jsonl and the inspect log.
"""

from __future__ import annotations

__all__ = ["strip_reasoning"]


def strip_reasoning(text: str) -> str:
    """The release's ``extract_answer_only``: the answer part of a response with reasoning traces."""
    if "<answer>" in text:
        start = text.find("<answer>") + len("<answer>")
        end = text.find("</answer>")
        return (text[start:end] if end != -1 else text[start:]).strip()
    for marker in ("</think>", "◁/think▷"):
        if marker in text:
            return text[text.rfind(marker) + len(marker):].strip()
    return text.strip()
