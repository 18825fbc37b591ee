"""Shared fixtures: the real data beside the repo (skipped cleanly when absent) and quiet TF logs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PIX2PIXAI_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """Path under ``../shared/data``; the calling test is skipped if it does not exist."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


@pytest.fixture
def shared_data():
    """Callable fixture: ``shared_data('braai', 'models')`` -> Path or skip."""
    return shared_path
