"""Fetch the wheels of perf/gpu_wheels.txt for the device machine (CPython 3.12, x86-64 manylinux).

    python3 perf/gpu_wheels.py [DIR]      # default .whl (add /.whl/ to .git/info/exclude first)

Runs `pip download --no-deps --only-binary=:all:` for every line, then prints each wheel's size and the
total, and exits non-zero when the total is over the 64 MiB a device call may carry (the working tree
counts too: keep the total well under). Needs PyPI; the test suite never runs this (it only checks the
list against constraints.txt).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIMIT_MIB = 64
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def requirements(path: Path = HERE / "gpu_wheels.txt") -> list[str]:
    """The `name==version` lines of the wheel list (comments and blank lines skipped)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def download_command(requirement: str, dest: Path) -> list[str]:
    """The exact `pip download` of one wheel for the device's Python."""
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    return [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
            "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(dest), requirement]


def main() -> None:
    dest = Path(sys.argv[1] if len(sys.argv) > 1 else ".whl")
    dest.mkdir(parents=True, exist_ok=True)
    for requirement in requirements():
        subprocess.run(download_command(requirement, dest), check=True)
    wheels = sorted(dest.glob("*.whl"))
    total = 0
    for wheel in wheels:
        size = wheel.stat().st_size
        total += size
        print(f"{size / 2**20:8.2f} MiB  {wheel.name}")
    print(f"{total / 2**20:8.2f} MiB  total, {len(wheels)} wheels in {dest}")
    if len(wheels) != len(requirements()):
        sys.exit(f"expected {len(requirements())} wheels in {dest}, found {len(wheels)} (old ones there?)")
    if total > LIMIT_MIB * 2**20:
        sys.exit(f"{total / 2**20:.1f} MiB is over the {LIMIT_MIB} MiB a device call carries")


if __name__ == "__main__":
    main()
