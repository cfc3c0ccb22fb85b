"""`mis tiny-model`: builds a loadable model, prints its summary, refuses unsafe overwrites."""

from __future__ import annotations

from typer.testing import CliRunner

from mis.cli import app
from mis.models import tiny_model_info

runner = CliRunner()


def test_tiny_model_command_builds_and_summarises(tmp_path):
    from transformers import AutoModelForImageTextToText

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a teal lantern\na crimson hexagon\n" * 10)
    out = tmp_path / "model"
    args = [
        "tiny-model",
        str(out),
        "--arch",
        "llava_onevision",
        "--seed",
        "3",
        "--image-size",
        "16",
        "--text-hidden",
        "32",
        "--vision-layers",
        "1",
        "--vocab-size",
        "400",
        "--corpus",
        str(corpus),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    info = tiny_model_info(out)
    assert info["seed"] == 3 and info["size"]["image_size"] == 16 and info["size"]["text_hidden"] == 32
    assert info["image_tokens_per_image"] == (16 // 8) ** 2 + 1
    for shown in ("llava_onevision", f"{info['params']:,}", str(info["vocab"]), str(out.name)):
        assert shown in result.output
    model = AutoModelForImageTextToText.from_pretrained(out)
    assert model.config.text_config.hidden_size == 32 and model.config.vision_config.num_hidden_layers == 1

    again = runner.invoke(app, ["tiny-model", str(out), "--arch", "llava_onevision"])
    assert again.exit_code == 1 and "--overwrite" in again.output


def test_tiny_model_command_rejects_bad_input(tmp_path):
    bad_arch = runner.invoke(app, ["tiny-model", str(tmp_path / "m"), "--arch", "gpt2"])
    assert bad_arch.exit_code == 1 and "gpt2" in bad_arch.output
    bad_size = runner.invoke(app, ["tiny-model", str(tmp_path / "m"), "--image-size", "30"])
    assert bad_size.exit_code == 1 and "patch_size" in bad_size.output
    missing = runner.invoke(app, ["tiny-model", str(tmp_path / "m"), "--corpus", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 1 and "nope.txt" in missing.output
    assert not (tmp_path / "m").exists()
