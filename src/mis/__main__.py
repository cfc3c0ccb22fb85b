"""``python -m mis``: the `mis` command, so launchers that start modules can run it.

``torchrun --nproc-per-node N -m mis eval ...`` and ``accelerate launch -m mis eval ...`` start one
data-parallel rank each this way (docs/evaluate.md, "One node, N GPUs").
"""

from mis.cli import app

if __name__ == "__main__":
    app(prog_name="mis")
