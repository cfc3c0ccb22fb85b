"""Batch building with loss on assistant tokens only, for any processor's chat template.

TRL 1.16's VLM collator masks assistant tokens only when the template carries `{% generation %}`
markers or is one TRL knows how to patch (not LLaVA-OneVision, not InternVL). This collator works
for every template: it renders the chat with the processor's own template, finds the assistant
answer in the rendered text, and maps it to token positions counted from the end of the sequence.
Image placeholders only sit in the user turn, so the tokens after the last image are tokenised the
same before and after the processor expands images; that alignment is checked, never assumed.

Each user turn is laid out for the model's family (`mis.models.user_turn_layout`: the authors'
`Image-k:` labels for InternVL / Idefics3, images first otherwise), as evaluation prompts it. Every
assistant turn of a multi-turn conversation is trained on, each with its end-of-turn marker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from mis.train._data import TrainDataError, build_messages

__all__ = ["AssistantOnlyCollator"]

log = logging.getLogger(__name__)

IGNORE = -100
#: Per-token tensors (B, T) cut together when a sample is truncated; pixel tensors are left whole.
_SEQUENCE_KEYS = {
    "input_ids",
    "attention_mask",
    "labels",
    "mm_token_type_ids",
    "token_type_ids",
    "position_ids",
}


@dataclass
class AssistantOnlyCollator:
    """Turn rows ({uid, images, question, target}) into model inputs whose labels are -100 off the answer.

    ``model_type`` picks the user-turn layout; by default it is the model type whose stock processor
    class ``processor`` is (`mis.models.presets.model_type_of_processor`).
    """

    processor: Any
    max_length: int | None = None
    model_type: str | None = None
    _warned: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        from mis.models import user_turn_layout
        from mis.models._layout import template_image_suffix
        from mis.models.presets import model_type_of_processor

        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        if not getattr(self.tokenizer, "is_fast", False):
            raise TypeError("assistant-only masking needs a fast tokenizer (offset mapping)")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.image_token_ids = self._image_token_ids()
        if self.model_type is None:
            self.model_type = model_type_of_processor(self.processor)
        self.layout = user_turn_layout(self.model_type)
        self.image_suffix = template_image_suffix(self.processor)

    def _image_token_ids(self) -> set[int]:
        ids: set[int] = set()
        for attr in ("image_token_id", "image_token"):
            value = getattr(self.processor, attr, None)
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, str):
                ids.add(self.tokenizer.convert_tokens_to_ids(value))
        return {i for i in ids if i is not None and i != self.tokenizer.unk_token_id}

    # -- text side -------------------------------------------------------------------------------
    def render(self, row: dict[str, Any]) -> str:
        """The full chat (user + assistant answers) as the processor's template writes it."""
        messages = build_messages(row, layout=self.layout, image_suffix=self.image_suffix)
        return str(self.processor.apply_chat_template(messages, tokenize=False))

    def answer_tail(self, row: dict[str, Any], text: str) -> tuple[list[int], list[bool]]:
        """Token ids at the end of ``text`` (no image expansion needed) and which of them are trained.

        The tail starts at the first answer's first token; the mask marks every answer plus the
        template's end-of-turn marker after it (so the model learns to stop), nothing else.
        """
        spans = self._answer_spans(row, text)
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        trained = [i for i, (a, b) in enumerate(offsets) if any(b > lo and a < hi for lo, hi in spans)]
        if not trained:
            raise TrainDataError(f"sample {row['uid']}: field 'target': no tokens found for the answer")
        first = trained[0]
        chosen = set(trained)
        return ids[first:], [i in chosen for i in range(first, len(ids))]

    def _answer_spans(self, row: dict[str, Any], text: str) -> list[tuple[int, int]]:
        """Character spans of every assistant answer (+ end-of-turn marker) in the rendered chat."""
        turns = row.get("turns")
        answers = [t["text"] for t in turns if t["role"] == "assistant"] if turns else [row["target"]]
        spans: list[tuple[int, int]] = []
        limit, end_of_turn = len(text), None
        for answer in reversed(answers):  # right to left: an answer is found after the turns before it
            start = text.rfind(answer, 0, limit)
            if start < 0:
                answer = answer.strip()
                start = text.rfind(answer, 0, limit)
            if start < 0:
                raise TrainDataError(
                    f"sample {row['uid']}: field 'target': the chat template does not render the answer "
                    "verbatim, so assistant tokens cannot be located"
                )
            stop = start + len(answer)
            if end_of_turn is None:  # the last answer: everything after it but the trailing newline
                end_of_turn = text[stop:].rstrip()
            if end_of_turn and text.startswith(end_of_turn, stop):
                stop += len(end_of_turn)
            spans.append((start, stop))
            limit = start
        return spans[::-1]

    # -- batch side --------------------------------------------------------------------------------
    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Collate rows into padded tensors with assistant-only labels."""
        import torch

        texts, tails = [], []
        for row in rows:
            text = self.render(row)
            texts.append(text)
            tails.append(self.answer_tail(row, text))
        images = [_open_images(row) for row in rows]
        # Same rule as `processor.apply_chat_template(tokenize=True)` at inference (hfvlm): special
        # tokens are added unless the template already starts with BOS, so training sees what
        # generation will see.
        bos = self.tokenizer.bos_token
        batch = self.processor(
            text=texts,
            images=images if any(images) else None,
            padding=True,
            padding_side="right",
            add_special_tokens=not (bos and texts[0].startswith(bos)),
            return_tensors="pt",
        )
        input_ids = batch["input_ids"]  # (B, T)
        lengths = batch["attention_mask"].sum(dim=1).tolist()
        labels = torch.full_like(input_ids, IGNORE)
        keep = input_ids.shape[1]
        for i, (row, (tail, mask)) in enumerate(zip(rows, tails, strict=True)):
            length = int(lengths[i])
            got = input_ids[i, length - len(tail) : length].tolist()
            if got != tail:
                raise TrainDataError(
                    f"sample {row['uid']}: field 'target': the processor's tokens for the answer differ "
                    "from the tokenizer's (an image placeholder after the answer?); cannot mask "
                    "assistant tokens safely"
                )
            answer_start = length - len(tail)
            keep_mask = torch.tensor(mask, dtype=torch.bool)  # (tail,)
            labels[i, answer_start:length] = torch.where(keep_mask, input_ids[i, answer_start:length], IGNORE)
            if self.max_length is not None and length > self.max_length:
                self._check_truncation(row, input_ids[i, :length].tolist(), answer_start)
                keep = self.max_length
        batch["labels"] = labels
        if keep < input_ids.shape[1]:
            for key in _SEQUENCE_KEYS & set(batch):
                batch[key] = batch[key][:, :keep]
        return dict(batch)

    def _check_truncation(self, row: dict[str, Any], ids: list[int], answer_start: int) -> None:
        """Refuse a sample whose image tokens or whole answer fall past max_length; warn on a cut answer."""
        assert self.max_length is not None
        image_pos = [k for k, t in enumerate(ids) if t in self.image_token_ids]
        if image_pos and image_pos[-1] + 1 >= self.max_length:
            raise TrainDataError(
                f"sample {row['uid']}: field 'images': image tokens end at position {image_pos[-1] + 1} of "
                f"{len(ids)} tokens but max_length is {self.max_length}; truncating would drop image tokens. "
                f"Raise --max-length to at least {len(ids)} or drop the sample"
            )
        if answer_start >= self.max_length:
            raise TrainDataError(
                f"sample {row['uid']}: field 'question': the prompt alone is {answer_start} tokens, past "
                f"max_length {self.max_length}, so no answer token would be trained; raise --max-length"
            )
        if row["uid"] not in self._warned:
            self._warned.add(row["uid"])
            log.warning(
                "sample %s: answer cut at max_length %d (%d tokens)", row["uid"], self.max_length, len(ids)
            )

    def validate(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        """Build every row once (same code path as training); return token statistics.

        Raises TrainDataError naming the first bad sample.
        """
        n_tokens = n_answer = longest = 0
        for row in rows:
            batch = self([row])
            n = int(batch["attention_mask"].sum())
            n_tokens += n
            longest = max(longest, n)
            n_answer += int((batch["labels"] != IGNORE).sum())
        return {"samples": len(rows), "tokens": n_tokens, "answer_tokens": n_answer, "longest": longest}


def _open_images(row: dict[str, Any]) -> list[Any]:
    from PIL import Image

    out = []
    for path in row["images"]:
        try:
            with Image.open(path) as im:
                out.append(im.convert("RGB"))
        except Exception as exc:  # noqa: BLE001 - re-raised with the sample named
            raise TrainDataError(f"sample {row['uid']}: field 'images': cannot open {path}: {exc}") from exc
    return out
