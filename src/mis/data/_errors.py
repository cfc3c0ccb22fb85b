"""Data errors and problems: every one names the file, the sample and the field it is about."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mis.errors import DataError

__all__ = ["STRUCTURAL", "DataError", "Problem", "display", "error_from"]

#: Problem codes that make a record unusable: `load` raises on them, `validate` reports them.
STRUCTURAL = frozenset({"not_json", "bad_shape", "missing_field", "bad_type", "duplicate_id"})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset, as reported by :func:`mis.data.validate`.

    ``code`` is a stable machine-readable kind (``image_missing``, ``duplicate_id`` ...) so callers
    and tests can filter without parsing the message.
    """

    file: str
    sample_id: str | None
    field: str | None
    message: str
    code: str = "invalid"

    def __str__(self) -> str:
        where = [self.file]
        if self.sample_id is not None:
            where.append(f"sample {self.sample_id}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"{': '.join(where)}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for `--json` output and reports)."""
        return asdict(self)


def error_from(problems: list[Problem], limit: int = 5) -> DataError:
    """One DataError listing the first ``limit`` problems (all of them are in ``validate``)."""
    lines = [str(p) for p in problems[:limit]]
    more = len(problems) - limit
    if more > 0:
        lines.append(f"... and {more} more (run `mis data validate` to list them all)")
    return DataError("\n".join(lines))


def display(path: Path) -> str:
    """How a file is named in problems: as given (absolute paths stay absolute)."""
    return str(path)
