"""A trained classifier's card: what its outputs mean and what inputs it expects, saved beside it.

A ``.keras`` file holds the network but not the names of its classes, the dmdt preset its inputs
were binned with, or their shape; without them a saved model's probabilities are anonymous columns
and a model fed another preset's images gives confident nonsense. The card is a small JSON file next
to the model (``model.keras`` -> ``model.card.json``), written atomically, and checked on loading.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from pix2pixai.atomic import write_json
from pix2pixai.errors import InputError


@dataclass(frozen=True)
class ModelCard:
    """``class_names`` in output order; ``preset``: the dmdt preset (None for other images);
    ``input_shape``: one input's shape (H, W, C)."""

    class_names: tuple[str, ...]
    input_shape: tuple[int, ...]
    preset: str | None = None


def card_path(model_path: str | Path) -> Path:
    """Where the card of ``model_path`` lives: ``<stem>.card.json`` beside it."""
    path = Path(model_path)
    return path.with_name(f"{path.stem}.card.json")


def save_card(model_path: str | Path, *, class_names: Sequence[str], input_shape: Sequence[int],
              preset: str | None = None) -> Path:
    """Write the card of the model saved at ``model_path``; returns the card's path."""
    card = ModelCard(tuple(map(str, class_names)), tuple(int(d) for d in input_shape), preset)
    return write_json(card_path(model_path), asdict(card))


def load_card(model_path: str | Path) -> ModelCard | None:
    """The card saved beside ``model_path``, or None when there is none (a model from elsewhere)."""
    path = card_path(model_path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return ModelCard(tuple(map(str, data["class_names"])), tuple(int(d) for d in data["input_shape"]),
                         data.get("preset"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: unreadable model card ({type(exc).__name__}: {exc}); expected JSON with "
                         "class_names, input_shape and preset (delete it to use the model without one)") from None
