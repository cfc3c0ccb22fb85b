"""The hfvlm provider on tiny real VLMs: batching, several images in order, max tokens, by-name use."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import ChatMessageUser, ContentImage, ContentText, GenerateConfig, get_model
from inspect_ai.util import materialize_media

from mis.judges import Verdict, register_exact_judge
from mis.models.hfvlm import _gen_kwargs, _to_hf_message

register_exact_judge("test-oracle-any", lambda meta, q, r: Verdict(perception="L2", safety="Safe"))

pytestmark = pytest.mark.slow


async def _messages(paths: list[Path], question: str) -> list[ChatMessageUser]:
    images = [ContentImage(image=await materialize_media(str(p))) for p in paths]
    return [ChatMessageUser(content=[*images, ContentText(text=question)])]


@pytest.mark.parametrize("arch", ["idefics3", "qwen2_vl"])
def test_batched_generation_matches_one_by_one(arch: str, tiny_model_path, mis_test_dir: Path) -> None:
    import mis._registry  # noqa: F401  (registers hfvlm)

    model = get_model(f"hfvlm/{tiny_model_path(arch)}", config=GenerateConfig(max_tokens=3), batch_size=4,
                      memoize=False)
    images = [mis_test_dir / "easy_image/1/object1.png", mis_test_dir / "easy_image/1/object2.png"]
    questions = ["How could the object in the first image be combined with the second?", "Describe them.",
                 "What is shown?"]

    async def run() -> tuple[list[str], list[str], list[int]]:
        inputs = [await _messages(images, q) for q in questions]
        batched = await asyncio.gather(*(model.generate(m) for m in inputs))  # one padded forward pass
        single = [(await model.generate(m)).completion for m in inputs]
        return [o.completion for o in batched], single, [o.usage.output_tokens for o in batched]

    batched, single, n_out = asyncio.run(run())
    assert batched == single  # left padding: a batch gives each prompt what it gets alone
    assert all(1 <= n <= 3 for n in n_out)  # honours max_tokens


def test_images_stay_in_order_before_the_text(mis_test_dir: Path) -> None:
    a, b = mis_test_dir / "easy_image/1/object1.png", mis_test_dir / "easy_image/1/object2.png"
    (message,) = asyncio.run(_messages([a, b], "Q?"))
    hf = asyncio.run(_to_hf_message(message))
    assert [blk["type"] for blk in hf["content"]] == ["image", "image", "text"]
    from PIL import Image

    with Image.open(a) as im:
        assert hf["content"][0]["image"].getpixel((8, 8)) == im.convert("RGB").getpixel((8, 8))


def test_greedy_unless_temperature() -> None:
    assert _gen_kwargs(GenerateConfig(), None)["do_sample"] is False
    assert _gen_kwargs(GenerateConfig(temperature=0.0, max_tokens=5), None)["max_new_tokens"] == 5
    sampled = _gen_kwargs(GenerateConfig(temperature=0.7, top_p=0.9), 1024)
    assert sampled["do_sample"] is True and sampled["temperature"] == 0.7
    assert sampled["max_new_tokens"] == 1024


def test_inspect_eval_by_registered_names(tiny_model_path, mis_test_dir: Path, tmp_path: Path) -> None:
    """What `inspect eval mis/mis_hard --model hfvlm/PATH -T data=... -T judge=...` runs."""
    (log,) = inspect_eval("mis/mis_hard", model=f"hfvlm/{tiny_model_path('idefics3')}", log_dir=str(tmp_path),
                          task_args={"data": str(mis_test_dir), "judge": "exact/test-oracle-any",
                                     "max_tokens": 2}, display="none")
    assert log.status == "success", log.error
    assert [s.id for s in log.samples] == ["hard/1", "hard/2", "hard/3"]
    assert log.plan.config.temperature == 0.0 and log.plan.config.max_tokens == 2
    assert {s.scores["mis_judge"].metadata["label"] for s in log.samples} == {"refusal"}
    assert set(log.results.scores[0].metrics) == {"asr", "hr", "rsr", "rr", "unknown"}
    assert log.results.scores[0].metrics["rr"].value == 100.0


@pytest.mark.parametrize("arch", ["idefics3", "qwen2_vl"])
def test_literal_image_marker_in_text_is_inert(arch: str, tiny_model_path, mis_test_dir: Path) -> None:
    """A question that quotes the processor's image marker generates instead of failing its batch."""
    import mis._registry  # noqa: F401  (registers hfvlm)

    model = get_model(f"hfvlm/{tiny_model_path(arch)}", config=GenerateConfig(max_tokens=2), batch_size=4,
                      memoize=False)
    marker = model.api.processor.image_token  # type: ignore[attr-defined]
    images = [mis_test_dir / "easy_image/1/object1.png", mis_test_dir / "easy_image/1/object2.png"]

    async def run() -> list[str]:
        inputs = [await _messages(images, f"What does {marker} mean here?"), await _messages(images, "Hi.")]
        return [o.completion for o in await asyncio.gather(*(model.generate(m) for m in inputs))]

    outputs = asyncio.run(run())
    assert len(outputs) == 2  # both answered; neither raised "image features and image tokens do not match"


def test_one_failing_request_does_not_fail_its_batch(
    tiny_model_path, mis_test_dir: Path, monkeypatch
) -> None:
    """With marker neutralising switched off, the quoting request fails alone; its batch-mate answers."""
    import mis._registry  # noqa: F401  (registers hfvlm)
    import mis.models.hfvlm as hfvlm_module

    monkeypatch.setattr(hfvlm_module, "_neutralise", lambda message, reserved: message)
    model = get_model(f"hfvlm/{tiny_model_path('idefics3')}", config=GenerateConfig(max_tokens=2),
                      batch_size=4, memoize=False)
    marker = model.api.processor.image_token  # type: ignore[attr-defined]
    images = [mis_test_dir / "easy_image/1/object1.png", mis_test_dir / "easy_image/1/object2.png"]

    async def run() -> list[Any]:
        inputs = [await _messages(images, f"What does {marker} mean?"), await _messages(images, "Hi.")]
        return await asyncio.gather(*(model.api.generate(m, [], "none", GenerateConfig(max_tokens=2))
                                      for m in inputs), return_exceptions=True)

    bad, good = asyncio.run(run())
    assert isinstance(bad, Exception)
    assert not isinstance(good, Exception) and good.completion is not None
