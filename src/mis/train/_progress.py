"""Training progress as events, and quiet third-party output while `train()` runs.

The library never prints: a :class:`TrainProgress` event goes to the caller's ``on_progress`` hook at
every optimizer step (the CLI draws a bar with step/total, loss and ETA from it), and each logged loss
goes to this module's logger at DEBUG (`mis -v train ...` shows it). transformers' own output is
replaced, not added to: its PrinterCallback (raw loss dicts on stdout) is removed by the caller,
and its weight-loading / shard-writing bars, its info/warning log lines (e.g. "use_cache=True is
incompatible with gradient checkpointing", which it then fixes itself) and a deprecation warning raised
inside peft (which no option of ours can avoid) are hidden unless the `mis` logger is at DEBUG.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["ProgressHook", "TrainProgress", "progress_callback", "quiet_third_party"]

log = logging.getLogger("mis.train")

#: Deprecations raised by third-party code with no argument of ours to turn them off (peft reads the
#: deprecated ``model.is_gradient_checkpointing`` property when it wraps a model for LoRA).
_UNACTIONABLE = (r"`is_gradient_checkpointing` is deprecated",)


@dataclass(frozen=True)
class TrainProgress:
    """Where a run stands: optimizer step ``step`` of ``total``, the latest logged loss, wall time so far."""

    step: int
    total: int
    loss: float | None
    elapsed_s: float
    done: bool = False


ProgressHook = Callable[[TrainProgress], None]


def progress_callback(on_progress: ProgressHook | None) -> Any:
    """A transformers ``TrainerCallback`` that reports steps to ``on_progress`` and losses to the log."""
    from transformers import TrainerCallback

    class _Progress(TrainerCallback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.loss: float | None = None
            self.start = time.perf_counter()

        def _emit(self, state: Any, done: bool = False) -> None:
            if on_progress is not None:
                elapsed = time.perf_counter() - self.start
                on_progress(TrainProgress(step=int(state.global_step), total=int(state.max_steps),
                                          loss=self.loss, elapsed_s=elapsed, done=done))

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.start = time.perf_counter()
            self._emit(state)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._emit(state)

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
                   **kwargs: Any) -> None:
            logs = logs or {}
            if state.log_history:  # the entry transformers just appended: when it was logged, for step times
                state.log_history[-1].setdefault("elapsed_s", round(time.perf_counter() - self.start, 4))
            if isinstance(logs.get("loss"), int | float):
                self.loss = float(logs["loss"])
            shown = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in logs.items())
            log.debug("step %d/%d: %s", state.global_step, state.max_steps, shown)
            self._emit(state)

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._emit(state, done=True)

    return _Progress()


@contextlib.contextmanager
def quiet_third_party() -> Iterator[None]:
    """Hide transformers' progress bars and unactionable deprecations unless `mis` logs at DEBUG."""
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    from transformers.utils import logging as hf_logging

    bars, level = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()  # e.g. "use_cache=True is incompatible with gradient checkpointing"
    try:
        with warnings.catch_warnings():
            for pattern in _UNACTIONABLE:
                warnings.filterwarnings("ignore", message=pattern, category=FutureWarning)
            yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()
