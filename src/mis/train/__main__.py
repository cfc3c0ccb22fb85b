"""`python -m mis.train ...` = `mis train ...`; what `accelerate launch -m mis.train` runs on every rank."""

import logging

from mis.cli.train import train_app

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    train_app(prog_name="python -m mis.train")
