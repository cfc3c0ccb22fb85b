"""The one error base of mis, and the exit code each kind of failure gives on the command line.

Library code raises a :class:`MisError` subclass for anything a user can fix or resume; the CLI catches only
these, prints their message on one line (no traceback) and exits with the class's code. Any other exception
is a bug and keeps its traceback.

| exit code | class | meaning |
|---|---|---|
| 1 | :class:`MisError` | any other expected failure |
| 2 | :class:`UsageError` | bad options, config or combination (nothing was run) |
| 3 | :class:`DataError` | bad or missing input data (names the file, sample and field) |
| 4 | :class:`RunStopped` | a run stopped part-way; finished work is kept, rerun the same command |
| 5 | :class:`TooManyUnknown` | results were written, but too many judgements are ``unknown`` |
"""

from __future__ import annotations


class MisError(Exception):
    """Base of every error mis raises on purpose; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UsageError(MisError, ValueError):
    """Bad options, config or combination, found before any expensive step."""

    exit_code = 2


class ConfigError(UsageError):
    """A recipe or config file is invalid (names the file and the field)."""


class RunMismatchError(UsageError):
    """An output folder holds work of a run with another identity (model, judge, prompt, data ...)."""


class DataError(MisError, ValueError):
    """Bad or unreadable data; the message names the file, the sample and the field when known."""

    exit_code = 3


class RunStopped(MisError, RuntimeError):
    """A long run stopped before the end; everything finished is kept and a rerun continues from it."""

    exit_code = 4


class TooManyUnknown(MisError):
    """More judgements than allowed could not be obtained (results are written; check the judge)."""

    exit_code = 5


__all__ = ["ConfigError", "DataError", "MisError", "RunMismatchError", "RunStopped", "TooManyUnknown",
           "UsageError"]
