"""The root `mis` Typer app; command modules attach their commands to it.

Errors: a :class:`mis.errors.MisError` (anything a user can fix or resume) prints one line, without a
traceback, and exits with its documented code (usage 2, data 3, run stopped resumably 4, too many unknown
judgements 5; see ``mis.errors``). Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
from typing import Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from typer.core import TyperGroup

from mis.errors import MisError


class MisGroup(TyperGroup):
    """The root command group: a MisError from any command becomes one line and its exit code."""

    def invoke(self, ctx: Any) -> Any:
        """Run the command; ``error: <message>`` on stderr and the error's exit code on a MisError."""
        try:
            return super().invoke(ctx)
        except MisError as exc:
            if not getattr(exc, "shown_elsewhere", False):  # data-parallel: rank 0 prints the shared error
                err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=MisGroup,
    name="mis",
    help="Multi-image safety for VLMs: build MIS data, train MIRage, evaluate any VLM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages.")) -> None:
    """Configure logging once for every command (library code logs, only the CLI prints)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    for noisy in ("httpx", "httpcore", "urllib3", "filelock", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line error (no traceback) and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)
