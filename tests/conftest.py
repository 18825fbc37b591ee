"""Shared fixtures: the real data beside the repo (skipped cleanly when absent) and quiet TF logs."""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Producers use their fixed default paths in tests (no timing, nothing written to the user's cache);
# the autotuner's own tests switch it on with a cache folder of their own.
os.environ.setdefault("PIX2PIXAI_AUTOTUNE", "0")
# Nothing a test does (internal-error logs, autotune entries) lands in the user's own cache folder.
os.environ.setdefault("PIX2PIXAI_CACHE_DIR", tempfile.mkdtemp(prefix="pix2pixai-test-cache-"))

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PIX2PIXAI_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """Path under ``../shared/data``; the calling test is skipped if it does not exist."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` loaded as a module (scripts/ is not a package), for tests of its functions."""
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def shared_data():
    """Callable fixture: ``shared_data('braai', 'models')`` -> Path or skip."""
    return shared_path
