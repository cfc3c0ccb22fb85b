"""The locally trained tokenizers: family special tokens, chat templates, plain text round trips."""

from __future__ import annotations

import pytest

from mis.models import ARCHS, make_tiny_model

SPECIALS = {
    "idefics3": [
        "<image>",
        "<fake_token_around_image>",
        "<global-img>",
        "<end_of_utterance>",
        "<|begin_of_text|>",
        "<row_1_col_1>",
        "<row_6_col_6>",
    ],
    "qwen2_vl": [
        "<|im_start|>",
        "<|im_end|>",
        "<|vision_start|>",
        "<|vision_end|>",
        "<|image_pad|>",
        "<|video_pad|>",
        "<|endoftext|>",
    ],
    "qwen2_5_vl": ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>"],
    "llava_onevision": ["<|im_start|>", "<|im_end|>", "<image>", "<video>", "<|endoftext|>"],
    "internvl": ["<|im_start|>", "<|im_end|>", "<img>", "</img>", "<IMG_CONTEXT>", "<video>",
                 "<|endoftext|>"],
}
TEMPLATE_MARKS = {
    "idefics3": ["<|begin_of_text|>User:", "<end_of_utterance>", "Assistant:"],
    "qwen2_vl": [
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>",
        "<|vision_start|><|image_pad|>",
    ],
    "qwen2_5_vl": ["<|im_start|>user\n", "<|vision_start|><|image_pad|><|vision_end|>"],
    "llava_onevision": ["<|im_start|>user <image><image>\n", "<|im_start|>assistant\n"],
    "internvl": ["<|im_start|>user\n<IMG_CONTEXT>\n<IMG_CONTEXT>\nHi<|im_end|>", "<|im_start|>assistant\n"],
}
SENTENCE = "The first image shows a red square; the second shows a blue circle (42 px wide)!"


@pytest.mark.parametrize("arch", ARCHS)
def test_special_tokens_template_and_round_trip(arch, tiny_model_path):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model_path(arch))
    tok = processor.tokenizer
    for token in SPECIALS[arch]:
        ids = tok.encode(token, add_special_tokens=False)
        assert len(ids) == 1 and tok.convert_ids_to_tokens(ids[0]) == token, token
    assert tok.pad_token is not None and tok.eos_token is not None
    if arch == "internvl":  # InternVLProcessor reads these names from the tokenizer
        assert (tok.start_image_token, tok.end_image_token, tok.context_image_token) == ("<img>", "</img>",
                                                                                        "<IMG_CONTEXT>")
    assert tok.decode(tok.encode(SENTENCE, add_special_tokens=False)) == SENTENCE

    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "Hi"}]}
    ]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    for mark in TEMPLATE_MARKS[arch]:
        assert mark in prompt


def test_corpus_shortens_its_words(tmp_path):
    """Training on a demo world's corpus makes its words cheap (the calibration needed ~600 tokens)."""
    from transformers import AutoTokenizer

    text = "The flammable lantern sits beside the toxic hexagon."
    plain = make_tiny_model(tmp_path / "plain", "qwen2_vl")
    tuned = make_tiny_model(tmp_path / "tuned", "qwen2_vl", corpus=[text] * 50)
    n_plain = len(AutoTokenizer.from_pretrained(plain).encode(text))
    n_tuned = len(AutoTokenizer.from_pretrained(tuned).encode(text))
    assert n_tuned < n_plain
