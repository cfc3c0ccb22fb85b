"""The phases of perf/gpu_check.sh (one process each, so each runs under its own `timeout`).

    python perf/_gpu_check.py prepare WORK      # random-init model of the real shape + 16 two-image samples
    python perf/_gpu_check.py masking WORK      # assistant-only labels on the processor training uses
    python perf/_gpu_check.py train WORK MODE   # RESULT of a finished `mis train` run (train_log.json)
    python perf/_gpu_check.py generate WORK     # hfvlm's batched greedy generation at batch 1, 8, 32

Each prints `RESULT name=NAME key=value ...` lines (values never contain spaces) and exits non-zero when
its check fails. Settings come from the environment (see gpu_check.sh): SMOKE, MODEL, PEAK_TFLOPS,
STEPS, LORA_LR, FULL_LR, GEN_TOKENS, GEN_BATCHES.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

SMOKE = os.environ.get("SMOKE") == "1"
MODEL = os.environ.get("MODEL", "qwen2_vl")
PEAK_TFLOPS = float(os.environ.get("PEAK_TFLOPS", "989"))  # H100 SXM bf16 dense
STEPS = int(os.environ.get("STEPS", "5"))
BATCH = 2
N_SAMPLES = 16
IMAGE_PX = 112 if SMOKE else 448  # smoke: 32 image tokens per sample instead of 512
MAX_LENGTH = 2048
QUESTION = "How could the object in the first image be combined with the object in the second image?"
TARGET = "The first image shows a red square and the second a blue circle. " * 12

# Real-size shapes, from each checkpoint's config.json (no download: the values are written here).
# Special-token ids stay the tiny tokenizer's (mis.models.tiny), whose processor is resized to 14 px patches.
SHAPES: dict[str, dict[str, Any]] = {
    "qwen2_vl": {  # Qwen/Qwen2-VL-7B-Instruct, ~8.3B parameters
        "label": "qwen2-vl-7b",
        "text": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                     num_key_value_heads=4, vocab_size=152064, max_position_embeddings=32768,
                     rms_norm_eps=1e-6, rope_parameters={"rope_type": "default", "rope_theta": 1e6,
                                                         "mrope_section": [16, 24, 24]}),
        "vision": dict(depth=32, embed_dim=1280, hidden_size=3584, hidden_act="quick_gelu", mlp_ratio=4,
                       num_heads=16, in_channels=3, patch_size=14, spatial_merge_size=2,
                       temporal_patch_size=2),
        "smoke_text": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                           num_key_value_heads=2, rope_parameters={"rope_type": "default", "rope_theta": 1e6,
                                                                   "mrope_section": [2, 3, 3]}),
        "smoke_vision": dict(depth=2, embed_dim=32, hidden_size=64, num_heads=2),
    },
    "internvl": {  # OpenGVLab/InternVL2_5-8B(-MPO-hf): InternViT-300M + InternLM2.5-7B (llama layout), ~8.1B
        "label": "internvl2.5-8b",
        "text": dict(model_type="llama", hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                     num_attention_heads=32, num_key_value_heads=8, vocab_size=92553,
                     max_position_embeddings=32768, rms_norm_eps=1e-5,
                     rope_parameters={"rope_type": "default", "rope_theta": 1e6}),
        "vision": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                       image_size=[448, 448], patch_size=[14, 14]),
        "smoke_text": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                           num_key_value_heads=2),
        "smoke_vision": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                             intermediate_size=64),
    },
}
#: config attributes that carry special-token ids or the image merge, copied from the tiny model's config
_COPIED = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id",
           "downsample_ratio", "vision_feature_layer", "vision_feature_select_strategy")


def result(name: str, **values: Any) -> None:
    """One parseable line: `RESULT name=NAME key=value ...`."""
    parts = [f"name={name}", f"model={SHAPES[MODEL]['label']}{'-smoke' if SMOKE else ''}"]
    for key, value in values.items():
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={text.replace(' ', '_')}")
    print("RESULT " + " ".join(parts), flush=True)


def _device() -> str:
    return "cpu" if SMOKE else "cuda"


def model_dir(work: Path) -> Path:
    return work / "model"


# ------------------------------------------------------------------------------------------- prepare
def prepare(work: Path) -> None:
    """Save a random-init model of the real shape (bf16 on the GPU) and the MIS-layout training data."""
    import torch
    from PIL import Image
    from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

    from mis.data import Sample, write_mis_layout
    from mis.models.tiny import TinySize, make_tiny_model

    start = time.perf_counter()
    shape = SHAPES[MODEL]
    tiny = make_tiny_model(work / "tiny", MODEL, size=TinySize(patch_size=14, image_size=IMAGE_PX, merge=2))
    tiny_cfg = AutoConfig.from_pretrained(tiny)
    text, vision = dict(shape["text"]), dict(shape["vision"])
    if SMOKE:  # same code path, CPU-sized (the tiny tokenizer's vocabulary: no 152k-way LM head on CPU)
        text.update(shape["smoke_text"], vocab_size=tiny_cfg.text_config.vocab_size)
        vision.update(shape["smoke_vision"])
    t = tiny_cfg.text_config
    text.update(bos_token_id=t.bos_token_id, eos_token_id=t.eos_token_id, pad_token_id=t.pad_token_id,
                tie_word_embeddings=False)
    copied = {k: getattr(tiny_cfg, k) for k in _COPIED if hasattr(tiny_cfg, k)}
    # a fresh config of the tiny one's class: no tiny-model marker, so hfvlm applies the family preset
    config = type(tiny_cfg)(text_config=text, vision_config=vision, tie_word_embeddings=False, **copied)
    torch.manual_seed(0)
    dtype = torch.float32 if SMOKE else torch.bfloat16
    with torch.device(_device()):
        model = AutoModelForImageTextToText.from_config(config, dtype=dtype)
    counts = param_counts(model)
    model.save_pretrained(model_dir(work))
    AutoProcessor.from_pretrained(tiny).save_pretrained(model_dir(work))
    (work / "params.json").write_text(json.dumps(counts))
    del model
    samples = []
    for i in range(N_SAMPLES):
        paths = []
        for k, colour in ((1, "red"), (2, "blue")):
            path = work / "src" / f"{i}_{k}.png"
            path.parent.mkdir(exist_ok=True)
            Image.new("RGB", (IMAGE_PX, IMAGE_PX), colour).save(path)
            paths.append(str(path))
        samples.append(Sample(id=str(i), split="train", images=paths, question=QUESTION, target=TARGET))
    write_mis_layout(samples, work / "data")
    for mode in ("lora", "full"):
        recipe(work, mode)
    import huggingface_hub
    import peft
    import pyarrow
    import transformers
    import trl

    result("prepare", ok=1, torch=torch.__version__, transformers=transformers.__version__,
           trl=trl.__version__, peft=peft.__version__, pyarrow=pyarrow.__version__,
           hub=huggingface_hub.__version__, params_b=counts["total"] / 1e9,
           lm_b=counts["lm"] / 1e9, vision_b=counts["vision"] / 1e9, wall_s=time.perf_counter() - start)


def param_counts(model: Any) -> dict[str, int]:
    """Parameters by role, for FLOPs: vision encoder, projector, language model (matmuls), embeddings."""
    from mis.train._model import PROJECTOR_IN_VISION, find_vision_modules, lm_linear_names

    vision_prefixes = find_vision_modules(model)
    embed = model.get_input_embeddings().weight.numel()
    counts = {"total": 0, "vision": 0, "projector": 0, "lm": 0, "embed": embed, "lora_per_rank": 0}
    for name, param in model.named_parameters():
        n = param.numel()
        counts["total"] += n
        in_vision = any(name.startswith(p + ".") for p in vision_prefixes)
        if any(f".{k}." in f".{name}" for k in (*PROJECTOR_IN_VISION, "multi_modal_projector", "mlp1")):
            counts["projector"] += n
        elif in_vision:
            counts["vision"] += n
        else:
            counts["lm"] += n  # lm_head included; the input embeddings are taken off below (a lookup)
    counts["lm"] -= embed
    modules = dict(model.named_modules())
    for name in lm_linear_names(model):  # LoRA adds r * (in + out) parameters to each of these
        counts["lora_per_rank"] += modules[name].in_features + modules[name].out_features
    return counts


# ------------------------------------------------------------------------------------------- masking
def masking(work: Path) -> None:
    """The collator's assistant-only labels, on the processor and data `mis train` reads (label_problems)."""
    import torch
    from transformers import AutoConfig

    from mis.train import resolve_config
    from mis.train._collate import AssistantOnlyCollator
    from mis.train._data import load_rows
    from mis.train._label_check import label_problems
    from mis.train._model import load_processor

    config = resolve_config(str(work / "recipe-lora.yaml"), model=str(model_dir(work)),
                            data=str(work / "data"), out=str(work / "unused"))
    rows = load_rows(str(config.data), config.splits)
    collator = AssistantOnlyCollator(load_processor(config), max_length=config.max_length)
    batch = collator(rows[:BATCH])
    model_type = AutoConfig.from_pretrained(config.model).model_type  # what hfvlm lays turns out by
    problems = label_problems(collator, rows[:BATCH], batch, model_type=model_type)
    for problem in problems:
        print(f"masking: {problem}", file=sys.stderr)
    image_ids = torch.tensor(sorted(collator.image_token_ids))
    stats = collator.validate(rows)  # every sample once, as `mis train --validate` does
    n = len(rows)
    tokens = {"tokens": stats["tokens"] / n, "answer": stats["answer_tokens"] / n,
              "image": float(torch.isin(batch["input_ids"][0], image_ids).sum())}
    (work / "tokens.json").write_text(json.dumps(tokens))
    result("masking", ok=int(not problems), problems=len(problems), rows=n, layout=collator.layout.name,
           tokens_per_sample=tokens["tokens"], answer_tokens_per_sample=tokens["answer"],
           image_tokens_per_sample=tokens["image"], longest=stats["longest"])
    if problems:
        sys.exit(1)


# ------------------------------------------------------------------------------------------- training
def recipe(work: Path, mode: str) -> None:
    """The `mis train --recipe` YAML of ``mode``: few steps, constant lr high enough to see the loss fall."""
    lr = os.environ.get("LORA_LR", "1e-3") if mode == "lora" else os.environ.get("FULL_LR", "1e-4")
    lines = [f"batch_size: {BATCH}", f"max_steps: {STEPS}", f"lr: {float(lr)}", "lr_scheduler: constant",
             "warmup_ratio: 0.0", f"max_length: {MAX_LENGTH}", f"bf16: {'false' if SMOKE else 'true'}",
             "gradient_checkpointing: true", "save_steps: 100000", "logging_steps: 1", "merge_lora: false",
             "general_samples: 0", "general_ratio: null", f"lora: {'true' if mode == 'lora' else 'false'}"]
    if mode == "full":
        # AdamW states for 7.6B trainable weights (~61 GB) + weights + grads do not fit one 80 GB GPU;
        # the paper's 8-GPU runs use AdamW under `--accelerate zero3` (docs/train.md).
        lines.append("optim: adafactor")
    (work / f"recipe-{mode}.yaml").write_text("\n".join(lines) + "\n")


def train_flops_per_sample(counts: dict[str, int], tokens: dict[str, float], mode: str, lora_r: int) -> float:
    """Model FLOPs of one training sample (MFU's numerator; recomputation for checkpointing not counted).

    6 N per token for weights that are trained (2 forward, 2 activation gradients, 2 weight gradients), 4 N
    for frozen weights the gradient passes through (LoRA's base language model), 2 N for frozen weights
    it does not reach (the vision encoder). N counts matmul weights: the language model with lm_head and
    without the input embeddings (a lookup) over every token; the projector over image tokens; the vision
    encoder over patches (merge 2 x 2: 4 patches per image token). LoRA adds r * (in + out) trained
    weights per adapted Linear. Attention scores (a few % at these lengths) are left out, as in 6 N.
    """
    t, image = tokens["tokens"], tokens["image"]
    patches = 4 * image
    vision = 2 * counts["vision"] * patches
    if mode == "full":
        return 6 * counts["lm"] * t + 6 * counts["projector"] * image + vision
    lora = lora_r * counts["lora_per_rank"]
    return (4 * counts["lm"] + 6 * lora) * t + 2 * counts["projector"] * image + vision


def train_result(work: Path, mode: str) -> None:
    """RESULT of a finished run: step time, samples/s, tokens/s, MFU, peak memory, loss finite and falling."""
    from mis.train import load_train_config

    log = json.loads((work / f"out-{mode}" / "train_log.json").read_text())
    counts = json.loads((work / "params.json").read_text())
    tokens = json.loads((work / "tokens.json").read_text())
    config = load_train_config(work / f"out-{mode}" / "train_config.yaml")
    steps = [h for h in log["log_history"] if "loss" in h]
    losses = [float(h["loss"]) for h in steps]
    times = [float(h["elapsed_s"]) for h in steps]
    # steady state: the first step also pays for allocation and kernel selection
    step_s = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else times[0]
    batch = config.batch_size * config.grad_accum
    flops = train_flops_per_sample(counts, tokens, mode, config.lora_r) * batch / step_s
    finite = all(math.isfinite(x) for x in losses)
    falling = finite and len(losses) > 1 and losses[-1] < losses[0]
    metrics = log["metrics"]
    result(f"train_{mode}", ok=int(finite and falling and len(losses) == STEPS), steps=len(losses),
           step_s=step_s, first_step_s=times[0], samples_s=batch / step_s,
           tokens_s=batch * tokens["tokens"] / step_s, tflops=flops / 1e12, mfu=flops / (PEAK_TFLOPS * 1e12),
           peak_gib=float(metrics.get("peak_gpu_mem_gib", 0.0)), loss_first=losses[0], loss_last=losses[-1],
           finite=int(finite), falling=int(falling), lr=config.lr)
    if not (finite and falling and len(losses) == STEPS):
        print(f"train_{mode}: losses {losses} (expected {STEPS} finite and falling)", file=sys.stderr)
        sys.exit(1)


# ------------------------------------------------------------------------------------------- generation
def generate(work: Path) -> None:
    """hfvlm's own loading and batched greedy decoding (mis.models._engine, no inspect) at batch 1, 8, 32."""
    import torch
    from PIL import Image

    from mis.models._engine import load_vlm

    new_tokens = int(os.environ.get("GEN_TOKENS", "32"))
    sizes = [int(b) for b in os.environ.get("GEN_BATCHES", "1 8 32").split()]
    start = time.perf_counter()
    vlm = load_vlm(str(model_dir(work)), device=_device(), dtype="float32" if SMOKE else "bfloat16")
    load_s = time.perf_counter() - start
    # min_new_tokens = max: every sample decodes the same number of tokens (a random-init model may stop
    # anywhere), so samples/s and tokens/s compare across batch sizes
    kwargs = {**vlm.greedy_kwargs(new_tokens), "min_new_tokens": new_tokens}
    colours = ["red", "blue", "green", "yellow", "purple", "orange", "white", "black"]

    def chats(n: int) -> list[list[dict[str, Any]]]:
        return [vlm.conversation([{"role": "user", "content": [
            {"type": "image", "image": Image.new("RGB", (IMAGE_PX, IMAGE_PX), colours[i % 8])},
            {"type": "image", "image": Image.new("RGB", (IMAGE_PX, IMAGE_PX), colours[(i + 3) % 8])},
            {"type": "text", "text": f"Question {i}: {QUESTION}"}]}]) for i in range(n)]

    def synced() -> float:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter()

    vlm.generate(chats(1), kwargs)  # warm-up: first kernels, allocator
    ok = True
    for size in sizes:
        batch = chats(size)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        repeats = 3 if size == 1 else 1
        t0 = synced()
        for _ in range(repeats):
            out = vlm.generate(batch, kwargs)
        seconds = (synced() - t0) / repeats
        generated = sum(n_out for _, _, n_out in out)
        ok = ok and generated == size * new_tokens
        peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else 0.0
        result(f"generate_b{size}", ok=int(generated == size * new_tokens), batch=size,
               samples_s=size / seconds, tokens_s=generated / seconds, batch_s=seconds,
               new_tokens=generated // size,
               prompt_tokens=out[0][1], peak_gib=peak, load_s=load_s)
    if not ok:
        sys.exit(1)


def main() -> None:
    command, work = sys.argv[1], Path(sys.argv[2])
    if command == "prepare":
        prepare(work)
    elif command == "masking":
        masking(work)
    elif command == "train":
        train_result(work, sys.argv[3])
    elif command == "generate":
        generate(work)
    else:
        raise SystemExit(f"unknown phase {command!r}")


if __name__ == "__main__":
    main()
