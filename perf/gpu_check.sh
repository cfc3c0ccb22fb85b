#!/usr/bin/env bash
# GPU proof in one short device call: `mis train` (MIRage LoRA and full fine-tuning) and `hfvlm/` batched
# greedy generation of a real-size model, with the training collator's assistant-only masking checked on
# the processor the run trains with. No download: a RANDOM-INIT model with Qwen2-VL-7B-Instruct's config
# (values in perf/_gpu_check.py, ~8.3B parameters; MODEL=internvl: InternVL2.5-8B's, ~8.1B, as a second
# call), its processor from `mis.models.tiny` resized to 14 px patches, 16 samples of two 448 px images.
#
#   bash perf/gpu_check.sh [WORK_DIR]                 # on the GPU machine; WORK_DIR needs ~50 GB free
#   SMOKE=1 bash perf/gpu_check.sh /tmp/gpu-smoke     # same script, CPU-sized model (tests/perf runs it)
#
# Phases, each under its own `timeout` (seconds: estimate for one H100, unmeasured / limit), 8 min at most:
#   prepare   build the model on the GPU in bf16, save it (~16.6 GB), data, recipes    ~55  / 80
#   masking   label_problems() on 2 rows + every sample built once, as `mis train`     ~15  / 30
#   lora      `python -m mis.train`, LoRA r=16 on every LM linear, 5 steps x batch 2  ~50  / 90 (+10)
#   generate  mis.models._engine (hfvlm's loading + batched forward), batch 1, 8, 32   ~40  / 70
#   full      the same as lora, full fine-tuning (vision frozen, Adafactor), 5 steps;  ~110 / 180 (+10)
#             writes the weights twice (last checkpoint, then OUT: ~33 GB; deleted after), so it runs last
# (+10: reading the run's train_log.json into its RESULT line). Limits add up to 470 s; a phase that
# overruns is killed, reported, and the next phase runs. Disk: ~50 GB at the peak (model + full run).
# Both training runs: bf16, gradient checkpointing, max length 2048, constant lr (LoRA 1e-3, full 1e-4:
# high enough for 5 steps to lower the loss of a random-init model; LORA_LR / FULL_LR override).
#
# Output: one line per measurement, `RESULT name=NAME model=LABEL key=value ...` (no spaces in values):
#   name=prepare       ok torch transformers trl peft pyarrow hub (versions) params_b lm_b vision_b wall_s
#   name=masking       ok problems rows layout tokens_per_sample answer_tokens_per_sample
#                      image_tokens_per_sample longest
#   name=train_lora    ok steps step_s first_step_s samples_s tokens_s tflops mfu peak_gib loss_first
#   name=train_full       loss_last finite falling lr
#   name=generate_bN   ok batch samples_s tokens_s batch_s new_tokens prompt_tokens peak_gib load_s
#   name=phase         ok=0 phase=NAME rc=N    (only for a phase that failed or ran out of time)
#   name=summary       ok failed wall_s
# step_s is the steady step time (steps 2..N, from train_log.json's elapsed_s); tokens count every
# non-padding token the language model sees (text + image tokens, the tiny tokenizer's text tokens);
# mfu = model FLOPs/s / (PEAK_TFLOPS, default 989 = H100 SXM bf16 dense) with the FLOPs of
# train_flops_per_sample in perf/_gpu_check.py (6 N per token for trained weights, 4 N for frozen
# weights gradients pass through, 2 N for the frozen vision encoder). The script exits non-zero when any
# phase fails: a masking problem, a loss that is not finite or not falling, a short generation.
#
# Wheels (the device machine has torch 2.11, transformers 5.17, peft, accelerate and no network; it lacks
# trl, datasets, pydantic and their dependencies): the exact list is perf/gpu_wheels.txt (versions of
# constraints.txt; tests/perf/test_gpu_check.py keeps them equal), fetched here, where PyPI is reachable:
#   echo /.whl/ >> .git/info/exclude && python3 perf/gpu_wheels.py .whl     # 18.8 MiB, prints the total
# inspect_ai (35 MB wheel + its dependencies) is not carried: no phase imports it (generation uses
# mis.models._engine, the part of the hfvlm provider that is torch only). The device call (`run` tool,
# carry [".whl"], timeout_s 600):
#   set -o pipefail; python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
#     --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site || exit
#   PYTHON=python3 bash perf/gpu_check.sh /tmp/mis-gpu 2>&1 | tee "$OUT/gpu_check.log"
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
WORK=${1:-/tmp/mis-gpu-check}  # not under the device's $OUT: what is there is sent back
export SMOKE=${SMOKE:-0} MODEL=${MODEL:-qwen2_vl} PEAK_TFLOPS=${PEAK_TFLOPS:-989}
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export TOKENIZERS_PARALLELISM=false
rm -rf "$WORK" && mkdir -p "$WORK"
[ "$SMOKE" = 1 ] || { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; df -h "$WORK"; }

start=$(date +%s)
failed=0
# phase NAME LIMIT_S COMMAND...: run under timeout; a failure is a RESULT line, and the next phases still run
phase() {
  local name=$1 limit=$2 rc t0
  shift 2
  t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@"
  rc=$?
  echo "# phase $name: rc=$rc, $(( $(date +%s) - t0 )) s (limit $limit s)"
  if [ "$rc" != 0 ]; then
    echo "RESULT name=phase ok=0 phase=$name rc=$rc"
    failed=$((failed + 1))
  fi
  return "$rc"
}

CHECK=(perf/_gpu_check.py)
phase prepare 80 "$PYTHON" "${CHECK[@]}" prepare "$WORK" || { echo "RESULT name=summary ok=0 failed=1"; exit 1; }
phase masking 30 "$PYTHON" "${CHECK[@]}" masking "$WORK"
# train MODE LIMIT_S: one `mis train` run, then its RESULT line; its output folder is deleted after
train() {
  phase "train_$1" "$2" "$PYTHON" -m mis.train --recipe "$WORK/recipe-$1.yaml" \
    --model "$WORK/model" --data "$WORK/data" --out "$WORK/out-$1" \
    && phase "result_$1" 10 "$PYTHON" "${CHECK[@]}" train "$WORK" "$1"
  rm -rf "$WORK/out-$1"
}
train lora 90
phase generate 70 "$PYTHON" "${CHECK[@]}" generate "$WORK"
train full 180
echo "RESULT name=summary ok=$(( failed == 0 )) failed=$failed wall_s=$(( $(date +%s) - start ))"
exit $(( failed > 0 ))
