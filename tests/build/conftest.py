"""Build-test fixtures: a scripted LLM/VLM (replies depend on the step's prompt), seeds, a tiny SD3 pipeline.

Seeds carry a tag ("case-3"); the tag travels inside every question, so a test can make the scripted
model misbehave for one record at one step (``misbehave={"case-3": "refine"}``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mis.testing import ScriptedOpenAIServer, ScriptedReply, message_text
from mis.testing._openai_server import count_images

TASKS = {
    "harmful element extraction from a text query": "extract",
    "harmful element extraction from an image": "extract_image",
    "instruction refinement and detoxification": "refine",
    "image critique": "critic",
    "text safety classification": "text_safety",
    "image harmfulness classification": "image_harm",
    "safety reasoning answer": "label",
    "label safety review": "label_judge",
}
PAIRS = [("a red square", "a blue circle"), ("a green triangle", "a yellow star")]


def step_of(text: str) -> str:
    m = re.search(r"TASK: ([^\n.]+)", text)
    assert m, f"no TASK line in prompt: {text[:200]}"
    return TASKS[m.group(1).strip()]


def _line(text: str, prefix: str) -> str:
    m = re.search(rf"^{re.escape(prefix)}\s*(.*)$", text, re.MULTILINE)
    assert m, f"no {prefix!r} in prompt"
    return m.group(1).strip()


def scripted_reply(
    body: dict[str, Any], misbehave: dict[str, str] | None = None, delays: dict[str, float] | None = None
) -> str | ScriptedReply:
    """What a well-behaved LLM/VLM would answer, except where ``misbehave`` says tag -> step."""
    text = message_text(body)
    step = step_of(text)
    tags = re.findall(r"case-\d+", text)
    tag = tags[0] if tags else "case-0"
    delay = (delays or {}).get(step, 0.0)
    if (misbehave or {}).get(tag) == step:
        bad = "Sure! Here you go: {not json" if step != "label" else "# Risk analysis\n" + "the shapes " * 15
        return ScriptedReply(bad, delay_s=delay)
    n = int(tag.split("-")[1])
    if step == "extract":
        o1, o2 = PAIRS[n % 2]
        e1, e2 = ("a black warning sign", "a blue circle") if n % 2 == 0 else PAIRS[(n + 1) % 2]
        reply = {
            "questions": [
                {
                    "category": "Violent",
                    "question": f"How could {o1} be used with {o2} to cause trouble ({tag})?",
                    "object1": o1,
                    "object2": o2,
                },
                {
                    "category": "Privacy",
                    "question": f"What happens if {e1} is placed next to {e2} ({tag})?",
                    "object1": e1,
                    "object2": e2,
                },
            ]
        }
        out = "```json\n" + json.dumps(reply) + "\n```"
    elif step == "refine":
        q, o1, o2 = _line(text, "Question:"), _line(text, "Object 1:"), _line(text, "Object 2:")
        q = q.replace(o1, "the object in the first image").replace(o2, "the object in the second image")
        out = json.dumps(
            {"keep": True, "reason": "", "object1": o1, "object2": o2, "question": q[0].upper() + q[1:]}
        )
    elif step == "critic":
        assert count_images(body) == 2
        p1 = _line(text, "1:")
        first_ok = not (n == 1 and "refined" not in p1)  # case-1 needs one refinement round
        out = json.dumps(
            {
                "image1_ok": first_ok,
                "image2_ok": True,
                "prompt1": "" if first_ok else "a refined photo of a red square",
                "prompt2": "",
            }
        )
    elif step == "text_safety":
        unsafe = "cause trouble" in text.split("Question (it refers")[1].split("\n")[0]
        out = json.dumps(
            {
                "safety": "Unsafe" if unsafe else "Safe",
                "category": "Violent",
                "sub_category": "Weapon-Related Violence",
            }
        )
    elif step == "image_harm":
        assert count_images(body) == 2
        out = json.dumps({"image1_harmful": "black warning sign" in text, "image2_harmful": False})
    elif step == "label":
        assert count_images(body) == 2
        out = (
            "The first image shows a simple coloured shape and the second image shows another one. "
            "Combining them as the question suggests could cause trouble for someone, so I will not "
            "describe how to do that. Instead, they can be used safely in a sorting or colour game."
        )
    else:  # label_judge
        out = json.dumps({"safe": True, "reason": "describes both images and stays safe"})
    return ScriptedReply(out, delay_s=delay) if delay else out


@pytest.fixture
def scripted_server() -> Callable[..., ScriptedOpenAIServer]:
    """Factory: a started scripted LLM/VLM server (stopped at teardown)."""
    servers: list[ScriptedOpenAIServer] = []

    def make(
        misbehave: dict[str, str] | None = None,
        delays: dict[str, float] | None = None,
        chat: Callable[[dict[str, Any]], Any] | None = None,
    ) -> ScriptedOpenAIServer:
        server = ScriptedOpenAIServer(chat=chat or (lambda body: scripted_reply(body, misbehave, delays)))
        servers.append(server.start())
        return server

    yield make
    for s in servers:
        s.stop()


def write_seeds(path: Path, n: int) -> Path:
    """``n`` mild synthetic text seeds tagged case-1..case-n."""
    rows = [
        {"query": f"A synthetic seed about two shapes, case-{k}.", "category": "Violent"}
        for k in range(1, n + 1)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def scripted_config(
    tmp: Path, server: ScriptedOpenAIServer, seeds: Path, out: Path, **extra: Any
) -> dict[str, Any]:
    """A build config dict: every model step on the scripted server, offline renderer unless overridden."""
    steps = {
        s: {
            "base_url": server.base_url,
            "api_key_env": "SCRIPTED_API_KEY",
            "max_retries": 0,
            "timeout": 30,
            "concurrency": 4,
        }
        for s in (
            "extract",
            "extract_image",
            "refine",
            "critic",
            "text_safety",
            "image_harm",
            "label",
            "label_judge",
        )
    }
    cfg: dict[str, Any] = {
        "seeds": [str(seeds)],
        "out": str(out),
        "text_model": "openai-api/scripted/scripted",
        "vision_model": "openai-api/scripted/scripted",
        "steps": steps,
        "t2i": {"backend": "offline", "width": 64, "height": 64},
        "questions_per_seed": 2,
    }
    cfg.update(extra)
    return cfg


@pytest.fixture(autouse=True)
def _scripted_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIPTED_API_KEY", "test-key")


@pytest.fixture(scope="session")
def tiny_sd3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real StableDiffusion3Pipeline, random weights: two tiny CLIP encoders, no T5, a local tokenizer."""
    import torch
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPTokenizer

    root = tmp_path_factory.mktemp("tiny_sd3")
    vocab: dict[str, int] = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz0123456789.,!?'-()":
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    (root / "vocab.json").write_text(json.dumps(vocab))
    (root / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(
        str(root / "vocab.json"), str(root / "merges.txt"), model_max_length=77, pad_token="<|endoftext|>"
    )
    torch.manual_seed(0)
    cfg = CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=len(vocab),
        projection_dim=32,
        max_position_embeddings=77,
    )
    pipe = StableDiffusion3Pipeline(
        transformer=SD3Transformer2DModel(
            sample_size=16,
            patch_size=2,
            in_channels=4,
            num_layers=1,
            attention_head_dim=8,
            num_attention_heads=4,
            caption_projection_dim=32,
            joint_attention_dim=64,
            pooled_projection_dim=64,
            out_channels=4,
        ),
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=AutoencoderKL(
            sample_size=64,
            in_channels=3,
            out_channels=3,
            block_out_channels=(4, 4, 4),
            down_block_types=("DownEncoderBlock2D",) * 3,
            up_block_types=("UpDecoderBlock2D",) * 3,
            layers_per_block=1,
            latent_channels=4,
            norm_num_groups=1,
            use_quant_conv=False,
            use_post_quant_conv=False,
            shift_factor=0.0609,
            scaling_factor=1.5035,
        ),
        text_encoder=CLIPTextModelWithProjection(cfg),
        tokenizer=tok,
        text_encoder_2=CLIPTextModelWithProjection(cfg),
        tokenizer_2=tok,
        text_encoder_3=None,
        tokenizer_3=None,
    )
    pipe.save_pretrained(root / "pipe")
    return root / "pipe"
