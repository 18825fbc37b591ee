"""Step fingerprints: a hash of a step's settings and of the content of its input files.

A step is skipped when its fingerprint equals the recorded one and its outputs exist. Input files
are hashed by what they mean (:mod:`pix2pixai.digests`: a ``.keras`` model by its weights and
canonical architecture, any other file by its bytes), so re-saving identical weights does not
re-run what follows while an input edited in place does.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable

from pix2pixai.digests import file_digest


def fingerprint(settings: Any, inputs: Iterable[Path]) -> str:
    """Hash of a step's settings (JSON-able) and the content of its input files (see ``file_digest``)."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for path in inputs:
        digest.update(file_digest(path).encode() if path.exists() else b"missing")
    return digest.hexdigest()
