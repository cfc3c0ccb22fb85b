"""`mis train --accelerate NAME|PATH`: re-run the same job under `accelerate launch -m mis.train`.

The resolved config is written to a YAML file and the child processes read it as their recipe, so
every rank sees exactly the options the user gave (no re-parsing of the original command line).
Several nodes need the command run on each node: see docs/train.md.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mis.train._config import TrainConfig, resolve_accelerate_config

__all__ = ["LAUNCHED_ENV", "launch", "launch_command"]

#: Set in the children so they train instead of launching again.
LAUNCHED_ENV = "MIS_TRAIN_LAUNCHED"


def _accelerate_exe() -> list[str]:
    beside = Path(sys.executable).parent / "accelerate"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("accelerate")
    return [found] if found else [sys.executable, "-m", "accelerate.commands.launch"]


def launch_command(config: TrainConfig, config_file: Path) -> list[str]:
    """The `accelerate launch ... -m mis.train --recipe CONFIG_FILE` command for a resolved config."""
    assert config.accelerate, "launch_command needs config.accelerate"
    exe = _accelerate_exe()
    cmd = [*exe, "launch"] if exe[-1].endswith("accelerate") else exe
    cmd += ["--config_file", str(resolve_accelerate_config(config.accelerate))]
    if config.num_processes:
        cmd += ["--num_processes", str(config.num_processes)]
    return [*cmd, "-m", "mis.train", "--recipe", str(config_file)]


def launch(config: TrainConfig, *, dry_run: bool = False) -> tuple[list[str], int]:
    """Write the resolved config and run it under accelerate; return (command, exit code).

    With ``dry_run`` the command is returned (exit code 0) without running it.
    """
    child = dataclasses.replace(config, accelerate=None, num_processes=None)
    folder = Path(tempfile.mkdtemp(prefix="mis-train-"))
    config_file = child.save(folder / "launch_config.yaml")
    cmd = launch_command(config, config_file)
    if dry_run:
        return cmd, 0
    env = {**os.environ, LAUNCHED_ENV: "1"}
    return cmd, subprocess.run(cmd, env=env, check=False).returncode
