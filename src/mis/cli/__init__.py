"""The `mis` command. Thin: each module parses its options, calls the library and prints.

Every command module below attaches to the one root app; importing them here registers them.
"""

from mis.cli import (  # noqa: F401
    baseline,
    build,
    campaign,
    data,
    demo,
    evaluate,
    judge,
    models,
    report,
    train,
)
from mis.cli._app import app

__all__ = ["app"]
