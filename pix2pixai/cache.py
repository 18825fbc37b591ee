"""The user's cache folder: where the toolkit keeps what outlives one run (autotuned producer
choices, tracebacks of internal errors). A base module (standard library only), so that every layer
that keeps something there finds the same folder."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming the cache folder (tests and shared machines point it elsewhere).
ENV_CACHE_DIR = "PIX2PIXAI_CACHE_DIR"


def cache_dir() -> Path:
    """``$PIX2PIXAI_CACHE_DIR``, else ``$XDG_CACHE_HOME/pix2pixai``, else ``~/.cache/pix2pixai``."""
    if os.environ.get(ENV_CACHE_DIR):
        return Path(os.environ[ENV_CACHE_DIR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "pix2pixai"
