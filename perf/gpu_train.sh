#!/usr/bin/env bash
# Single-call GPU check of `mis train` at Qwen2-VL-7B scale (no download, fits in ~8 minutes on one
# 80 GB GPU): a RANDOM-INIT model with Qwen2-VL-7B-Instruct's shape (config values written inline
# below; ~8.3B parameters), its processor from `mis.models.tiny` reconfigured to 14 px patches,
# 16 two-image samples (448 px), then 5 steps of LoRA and 5 steps of full fine-tuning (vision
# frozen), bf16, gradient checkpointing, batch 2. Prints steps, samples/s and peak GPU memory.
#
#   PYTHON=python3 bash perf/gpu_train.sh [WORK_DIR]          # WORK_DIR needs ~40 GB free
#   SMOKE=1 bash perf/gpu_train.sh /tmp/gpu-smoke               # same script, CPU-sized model
#
# Needs mis importable (pip install -e . , or PYTHONPATH=src with trl/transformers/peft/datasets/
# pydantic at the versions in constraints.txt). Full fine-tuning uses Adafactor here: AdamW states
# for 7.6B trainable weights (~61 GB) + weights + grads do not fit one 80 GB GPU; the paper's 8-GPU
# runs use AdamW under `--accelerate zero3` (docs/train.md).
set -euo pipefail
PYTHON=${PYTHON:-.venv/bin/python}
WORK=${1:-${OUT:-/tmp}/mis-gpu-train}
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
rm -rf "$WORK" && mkdir -p "$WORK"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true

timeout 120 "$PYTHON" - "$WORK" <<'PY'
import sys, time
from pathlib import Path
import torch
from PIL import Image
import os
from transformers import AutoConfig, AutoProcessor, Qwen2VLConfig, Qwen2VLForConditionalGeneration
from mis.data import Sample, write_mis_layout
from mis.models.tiny import TinySize, make_tiny_model

work = Path(sys.argv[1]); t0 = time.time()
SMOKE = os.environ.get("SMOKE") == "1"
DEVICE = "cpu" if SMOKE else "cuda"
tiny = make_tiny_model(work / "tiny", "qwen2_vl", size=TinySize(patch_size=14, image_size=448, merge=2))
tiny_cfg = AutoConfig.from_pretrained(tiny)
# Qwen/Qwen2-VL-7B-Instruct's config.json values; special token ids stay the tiny tokenizer's.
text = dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
            num_key_value_heads=4, vocab_size=152064, max_position_embeddings=32768, rms_norm_eps=1e-6,
            rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]})
vision = dict(depth=32, embed_dim=1280, hidden_size=3584, hidden_act="quick_gelu", mlp_ratio=4, num_heads=16,
              in_channels=3, patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
if SMOKE:  # same code path, CPU-sized: checks this script end to end without a GPU
    text.update(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, rope_parameters={"rope_type": "default", "rope_theta": 1e6,
                                                        "mrope_section": [2, 3, 3]})
    vision.update(depth=2, embed_dim=32, hidden_size=64, num_heads=2)
t = tiny_cfg.text_config
text.update(bos_token_id=t.bos_token_id, eos_token_id=t.eos_token_id, pad_token_id=t.pad_token_id,
            tie_word_embeddings=False)
config = Qwen2VLConfig(text_config=text, vision_config=vision, image_token_id=tiny_cfg.image_token_id,
                       video_token_id=tiny_cfg.video_token_id, vision_start_token_id=tiny_cfg.vision_start_token_id,
                       vision_end_token_id=tiny_cfg.vision_end_token_id, tie_word_embeddings=False)
torch.manual_seed(0)
with torch.device(DEVICE):
    model = Qwen2VLForConditionalGeneration._from_config(config, dtype=torch.bfloat16 if not SMOKE else torch.float32)
print(f"params {sum(p.numel() for p in model.parameters()) / 1e9:.2f}B, built in {time.time() - t0:.0f}s")
model.save_pretrained(work / "qwen2vl-7b-shape"); AutoProcessor.from_pretrained(tiny).save_pretrained(work / "qwen2vl-7b-shape")
del model
samples = []
for i in range(16):
    paths = []
    for k, color in ((1, "red"), (2, "blue")):
        p = work / "src" / f"{i}_{k}.png"; p.parent.mkdir(exist_ok=True)
        Image.new("RGB", (448, 448), color).save(p); paths.append(str(p))
    samples.append(Sample(id=str(i), split="train", images=paths,
        question="How could the object in the first image be combined with the object in the second image?",
        target="The first image shows a red square and the second a blue circle. " * 12))
write_mis_layout(samples, work / "data")
print(f"model + data ready in {time.time() - t0:.0f}s")
PY

cat > "$WORK/gpu-check.yaml" <<'YAML'
batch_size: 2
max_steps: 5
lr: 1.0e-5
warmup_ratio: 0.0
max_length: 2048
bf16: BF16
gradient_checkpointing: true
save_steps: 1000
logging_steps: 1
merge_lora: false
general_ratio: null
YAML

sed -i "s/BF16/$([ "${SMOKE:-0}" = 1 ] && echo false || echo true)/" "$WORK/gpu-check.yaml"
for mode in lora full; do
  extra=(); [ "$mode" = lora ] && extra=(--lora)
  [ "$mode" = full ] && printf 'optim: adafactor\n' >> "$WORK/gpu-check.yaml"
  start=$(date +%s)
  timeout 180 "$PYTHON" -m mis.train --recipe "$WORK/gpu-check.yaml" --model "$WORK/qwen2vl-7b-shape" \
    --data "$WORK/data" --out "$WORK/out-$mode" "${extra[@]}"
  "$PYTHON" - "$WORK/out-$mode/train_log.json" "$mode" "$(( $(date +%s) - start ))" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
print(f"RESULT {sys.argv[2]}: steps {m['global_step']}, train {m['train_runtime']:.1f}s, "
      f"{m['train_samples_per_second']:.2f} samples/s, peak GPU {m.get('peak_gpu_mem_gib', 0):.1f} GiB, "
      f"loss {m['train_loss']:.3f}, wall incl. load/save {sys.argv[3]}s")
PY
  rm -rf "$WORK/out-$mode"
done
