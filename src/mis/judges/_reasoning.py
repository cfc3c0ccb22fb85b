"""A reasoning model's final answer: what judges that the release strips reasoning for are shown.

MIR-SafetyBench's ``harmbench_judge.py`` (``extract_answer_only``) judges only the answer part of a
reasoning model's output: the text inside ``<answer>...</answer>`` (to the end when it is not closed), else
what follows the last ``</think>``, else what follows Kimi's last ``◁/think▷``, else the whole text; always
stripped of surrounding whitespace. The full response stays in samples.jsonl and the inspect log.
"""

from __future__ import annotations

from typing import Any

__all__ = ["judged_response", "reasoning_text", "strip_reasoning"]


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


def reasoning_text(state: Any) -> str | None:
    """The reasoning split off the reply (inspect turns ``<think>`` blocks into reasoning parts)."""
    from inspect_ai.model import ContentReasoning

    message = getattr(getattr(state, "output", None), "message", None)
    content = getattr(message, "content", None)
    if not isinstance(content, list):
        return None
    parts = [c.reasoning for c in content if isinstance(c, ContentReasoning) and c.reasoning]
    return "\n".join(parts) if parts else None


def judged_response(state: Any, strip_think: bool) -> str:
    """What a judge is shown: the answer part only (``strip_think``), else the whole reply with reasoning.

    A served reasoning model's ``<think>`` block arrives split off by inspect; without stripping it is put
    back in front of the answer (``<think>...</think>``), as the releases that judge the whole text see it.
    """
    completion = str(state.output.completion)
    if strip_think:
        return strip_reasoning(completion)
    reasoning = reasoning_text(state)
    return f"<think>{reasoning}</think>{completion}" if reasoning else completion
