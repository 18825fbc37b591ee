"""User-facing errors.

Every problem caused by the user's input (a file, a field, a shape, a config key) is raised as
:class:`InputError` with a message naming *what* was wrong, *where* (file, row, field) and *what was
expected*. The CLI turns these into one line on stderr and exit code 2; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad user input: the message names the file/field/shape and what was expected."""


def where(path: str | Path | None, row: int | None = None, field: str | None = None) -> str:
    """Format a location prefix such as ``'curves.csv, row 12, field mag: '``."""
    parts = []
    if path is not None:
        parts.append(str(path))
    if row is not None:
        parts.append(f"row {row}")
    if field is not None:
        parts.append(f"field {field!r}")
    return (", ".join(parts) + ": ") if parts else ""
