"""A byte-level BPE tokenizer trained locally, so tiny models never download a vocabulary."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

__all__ = ["builtin_corpus", "train_tokenizer"]


def builtin_corpus() -> list[str]:
    """The small packaged corpus every tiny tokenizer is trained on (plus any user corpus)."""
    text = resources.files("mis.models.tiny").joinpath("tiny_corpus.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def train_tokenizer(
    *,
    vocab_size: int,
    special_tokens: Sequence[str],
    named_tokens: dict[str, str],
    corpus: Iterable[str] | None = None,
    extra_named_tokens: dict[str, str] | None = None,
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on the built-in corpus (+ `corpus`) with the family's special tokens.

    `special_tokens` get the first ids, in order, and are never split. `named_tokens` maps tokenizer
    attributes (bos_token, eos_token, pad_token) to some of them; `extra_named_tokens` names more of
    them for processors that read them from the tokenizer (InternVL's `start_image_token` ...).
    Byte-level BPE covers any input text, so there is no unknown token. Training is deterministic for
    a given corpus.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    minimum = 256 + len(special_tokens)
    if vocab_size < minimum:
        raise ValueError(
            f"vocab_size={vocab_size} is too small: byte-level BPE needs 256 byte tokens plus "
            f"{len(special_tokens)} special tokens; use at least {minimum}."
        )
    texts = builtin_corpus() + [t for t in (corpus or ()) if t]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer, length=len(texts))
    named = set(named_tokens.values())
    extra: list[str] | dict[str, str] = [t for t in special_tokens if t not in named]
    if extra_named_tokens:  # named extras; the other special tokens stay atomic through the backend
        extra = dict(extra_named_tokens)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        **named_tokens,
        extra_special_tokens=extra,
        clean_up_tokenization_spaces=False,
        model_max_length=4096,
    )
