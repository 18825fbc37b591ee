"""Atomic file writes for the trainers package (which may not import ``pix2pixai.atomic``).

A reader never sees a half-written file: the content goes to a temporary file in the same
directory, which ``os.replace`` then renames over the destination (atomic on POSIX).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable


def replace_atomic(path: Path, write: Callable[[Path], None], *, suffix: str = "") -> None:
    """Call ``write(tmp)`` on a temporary sibling of ``path`` (ending in ``suffix``), then rename it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    replace_atomic(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, sort_keys=True)), suffix=".json")
