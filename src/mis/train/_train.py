"""`train(config)`: MIRage supervised fine-tuning on TRL's SFTTrainer (+ PEFT), resumable.

Order matters: options and the output folder are checked first, then every sample is built once
(cheap, no model), and only then is the model loaded; a bad sample never costs a model load.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from mis.train._config import (
    RESUMABLE_CHANGES,
    ConfigError,
    TrainConfig,
    check_model_source,
    load_train_config,
)
from mis.train._progress import ProgressHook, progress_callback, quiet_third_party

__all__ = ["prepare_out", "train"]

log = logging.getLogger(__name__)

CONFIG_FILE = "train_config.yaml"
CHECKPOINTS = "checkpoints"


def prepare_out(config: TrainConfig, *, create: bool = True) -> Path:
    """Check OUT may be used (empty, or --resume with a compatible config); create it unless told not to."""
    out = Path(str(config.out))
    saved = out / CONFIG_FILE
    if out.exists() and any(out.iterdir()):
        if not config.resume:
            raise ConfigError(
                f"out: {out} is not empty; pass --resume to continue its last checkpoint, "
                "or choose another folder"
            )
        if saved.is_file():
            before = load_train_config(saved).to_dict()
            now = config.to_dict()
            changed = sorted(k for k in now if k not in RESUMABLE_CHANGES and before.get(k) != now[k])
            if changed:
                diffs = "; ".join(f"{k}: {before.get(k)!r} -> {now[k]!r}" for k in changed)
                raise ConfigError(
                    f"resume: {out} was trained with different settings ({diffs}); only "
                    f"{', '.join(sorted(RESUMABLE_CHANGES))} may change on resume. "
                    "Use a new --out to start over"
                )
    if create:
        out.mkdir(parents=True, exist_ok=True)
    return out


def last_checkpoint(out: Path) -> Path | None:
    """The newest ``OUT/checkpoints/checkpoint-N`` (None when none)."""
    from transformers.trainer_utils import get_last_checkpoint

    folder = out / CHECKPOINTS
    if not folder.is_dir():
        return None
    found = get_last_checkpoint(str(folder))
    return Path(found) if found else None


def _rows(config: TrainConfig) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from mis.train._data import data_fingerprint, load_rows, mix_rows, warn_without_general_data

    main = load_rows(str(config.data), config.splits)
    info: dict[str, Any] = {
        "data": {"source": config.data, "samples": len(main), "sha256": data_fingerprint(main)}
    }
    rows = main
    if config.general_data:
        general = load_rows(config.general_data)
        rows = mix_rows(main, general, config.general_ratio, config.seed, samples=config.general_samples)
        info["general_data"] = {
            "source": config.general_data,
            "samples": len(rows) - len(main),
            "sha256": data_fingerprint([r for r in rows if r["source"] == str(config.general_data)]),
        }
    else:
        warn_without_general_data(config.general_samples, config.general_ratio)
    info["total_samples"] = len(rows)
    return rows, info


def _has_accelerator() -> bool:
    import torch

    probe = getattr(torch, "accelerator", None)  # torch >= 2.6: CUDA, XPU, MPS, ... alike
    return bool(probe.is_available()) if probe is not None else torch.cuda.is_available()


def sft_args(config: TrainConfig, out: Path, bf16: bool) -> Any:
    """TrainConfig -> TRL SFTConfig (our collator does tokenisation and masking).

    Quiet by construction: ``activation_checkpointing`` (transformers 5's name; the old
    ``gradient_checkpointing``, which TRL defaults to True, is passed as None so no FutureWarning),
    no pinned memory without an accelerator (torch warns that it cannot pin), no tqdm bar (the
    caller's ``on_progress`` hook draws progress).
    """
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(out / CHECKPOINTS),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        learning_rate=config.lr,
        warmup_steps=config.warmup_ratio,  # a float in [0, 1) is a ratio of all steps
        lr_scheduler_type=config.lr_scheduler,
        weight_decay=config.weight_decay,
        optim=config.optim,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        seed=config.seed,
        data_seed=config.seed,
        bf16=bf16,
        fp16=False,
        activation_checkpointing=config.gradient_checkpointing,
        gradient_checkpointing=None,  # type: ignore[arg-type]  # TRL types it bool; None = "not given"
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        logging_steps=config.logging_steps,
        report_to=config.report_to,
        dataloader_num_workers=config.dataloader_num_workers,
        dataloader_pin_memory=_has_accelerator(),
        remove_unused_columns=False,  # the collator needs uid/question/target/images
        max_length=config.max_length,
        dataset_kwargs={"skip_prepare_dataset": True},
        assistant_only_loss=False,  # done by AssistantOnlyCollator for every chat template
        disable_tqdm=True,
    )


def _plain_loss_trainer() -> Any:
    """SFTTrainer whose loss is the model's own cross-entropy instead of TRL's fused, tiled LM head.

    Same objective (mean NLL over the tokens whose label is not -100, i.e. assistant tokens), same
    data, optimizer and schedule; only the loss kernel differs. TRL's token-accuracy/entropy metrics
    are not logged on this path; `num_tokens` (tokens seen, for throughput) is.
    """
    from transformers import Trainer
    from trl import SFTTrainer

    class PlainLossSFTTrainer(SFTTrainer):
        def compute_loss(self, model: Any, inputs: Any, return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            if model.training:
                seen = self.accelerator.gather_for_metrics(inputs["attention_mask"].sum()).sum().item()
                self._total_train_tokens += seen
                self._metrics["train"]["num_tokens"] = [self._total_train_tokens]
            return Trainer.compute_loss(self, model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)

    return PlainLossSFTTrainer


def train(config: TrainConfig, *, on_progress: ProgressHook | None = None) -> Path:
    """Fine-tune ``config.model`` on ``config.data``; return OUT (loadable by AutoModelForImageTextToText).

    ``on_progress`` receives a :class:`TrainProgress` at every optimizer step (the CLI's progress bar);
    nothing is printed, losses are logged at DEBUG and kept in ``OUT/train_log.json``.
    """
    with quiet_third_party():
        return _train(config, on_progress)


def _train(config: TrainConfig, on_progress: ProgressHook | None) -> Path:
    import torch
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTTrainer

    from mis.train._card import write_model_card
    from mis.train._collate import AssistantOnlyCollator
    from mis.train._merge import merge_adapter
    from mis.train._model import load_model, load_processor, lora_config, use_bf16

    config.check()
    if config.qlora:  # needs CUDA + bitsandbytes: fail before any data or model work
        from mis.train._model import _quantization_config

        _quantization_config()
    check_model_source(str(config.model))  # a mistyped local path fails here, not after the data is read
    # Under `accelerate launch` every rank runs this; only rank 0 checks and writes OUT (the others
    # would see rank 0's files and refuse a "non-empty" folder). A rank-0 error stops the launcher.
    main_rank = os.environ.get("RANK", "0") == "0"
    out = prepare_out(config, create=False) if main_rank else Path(str(config.out))
    checkpoint = last_checkpoint(out) if config.resume else None
    if config.resume and checkpoint is None:
        log.info("resume: no checkpoint in %s yet; starting from step 0", out / CHECKPOINTS)

    # Data errors must not leave OUT behind (a rerun would then need --resume): check, then write.
    rows, data_info = _rows(config)
    processor = load_processor(config)
    collator = AssistantOnlyCollator(processor, max_length=config.max_length)
    if config.validate:
        data_info["tokens"] = collator.validate(rows)
        log.info("validated %d samples: %s", len(rows), data_info["tokens"])
    if main_rank:
        out.mkdir(parents=True, exist_ok=True)
        config.save(out / CONFIG_FILE)
        (out / "README.md").unlink(missing_ok=True)  # the card marks a finished run: not until this one is

    bf16 = use_bf16(config)
    model = load_model(config, bf16)
    trainer_class = SFTTrainer if config.fused_lm_head else _plain_loss_trainer()
    trainer = trainer_class(
        model=model,
        args=sft_args(config, out, bf16),
        data_collator=collator,
        train_dataset=Dataset.from_list(rows),
        processing_class=processor,
        peft_config=lora_config(model, config) if config.lora else None,
    )
    trainer.remove_callback(PrinterCallback)  # it prints raw loss dicts; progress goes to on_progress
    trainer.add_callback(progress_callback(on_progress))
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    metrics = {
        "global_step": trainer.state.global_step,
        "train_loss": result.training_loss,
        **{k: v for k, v in result.metrics.items() if isinstance(v, int | float)},
    }
    if torch.cuda.is_available():
        metrics["peak_gpu_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30

    if config.lora:
        trainer.save_model(str(out / "adapter"))
    else:
        trainer.save_model(str(out))
    trainer.accelerator.wait_for_everyone()
    if trainer.accelerator.is_main_process:
        log_file = out / "train_log.json"
        log_file.write_text(
            json.dumps({"metrics": metrics, "log_history": trainer.state.log_history}, indent=1)
        )
        if config.lora and config.merge_lora:
            del trainer, model
            merge_adapter(out / "adapter", out, base=config.model, allow_existing=True)
        processor.save_pretrained(str(out))
        write_model_card(out, config, data_info, metrics, bf16=bf16)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return out
