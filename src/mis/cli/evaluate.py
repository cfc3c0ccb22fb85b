"""`mis` evaluate commands (being written)."""

from mis.cli._app import app  # noqa: F401
