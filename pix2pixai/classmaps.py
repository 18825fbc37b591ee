"""Class-level maps from pix2pix generators (the pix2piXAI step).

For one group (a class or a real/bogus subcategory) and one explanation method:

1. :func:`split_group` divides the group's members of the classifier's *test* split (never its
   training split) into a generator-training part and a disjoint held-out part (seeded).
   Generator-training pairs are the correctly classified members with p >= ``train_threshold``;
   class-map inputs are held-out members with p >= ``classmap_threshold``.
2. A generator G learnt (input -> explanation) on the training pairs is run on the class-map inputs.
3. The generated maps are ranked. ``fidelity``: SSIM(G(x_i), e_i), the map the generator learnt
   best; ``medoid``: mean SSIM of G(x_i) to every other G(x_j), the most typical generated map.
   The top-ranked generated map is the class map; the other ranking's top map, the top-k and the
   plain baselines (pixel-wise mean and median of the input-specific maps, mean of the generated
   maps) are stored beside it so that :mod:`pix2pixai.compare` can test which is most faithful.

All maps here are in the generator's unit range ([0, 1] unsigned, [-1, 1] signed) so that SSIM uses
a fixed ``data_range`` (1 or 2) and is computed in float64.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pix2pixai import metrics
from pix2pixai.metrics.ranking import fidelity_ranking, medoid_ranking
from pix2pixai import atomic
from pix2pixai.errors import InputError


@dataclass(frozen=True)
class GroupSplit:
    """Indices (into the test split) of one group's generator-training, held-out and class-map inputs."""

    group: str
    train: np.ndarray
    heldout: np.ndarray
    classmap: np.ndarray
    n_members: int
    skipped: str = ""

    def counts(self) -> dict[str, Any]:
        return {"members": self.n_members, "train_pairs": int(self.train.size), "heldout": int(self.heldout.size),
                "classmap_inputs": int(self.classmap.size), "skipped": self.skipped}


def split_group(
    group_name: str,
    members: np.ndarray,
    correct: np.ndarray,
    confidence: np.ndarray,
    *,
    seed: int,
    heldout_fraction: float,
    train_threshold: float,
    classmap_threshold: float,
    min_train_pairs: int,
    min_heldout: int,
) -> GroupSplit:
    """Split one group's test-split members (``members``: indices into the test split).

    ``correct`` and ``confidence`` are indexed like the test split: whether the classifier got the
    input right, and its probability for the group's class. The held-out part takes
    ``round(heldout_fraction * n)`` members chosen by a seeded permutation; thresholds then filter
    each part. A group with too few pairs is returned with ``skipped`` set to the reason.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(np.sort(members))
    n_heldout = int(round(heldout_fraction * order.size))
    heldout = np.sort(order[:n_heldout])
    rest = np.sort(order[n_heldout:])
    train = rest[correct[rest] & (confidence[rest] >= train_threshold)]
    classmap = heldout[correct[heldout] & (confidence[heldout] >= classmap_threshold)]
    reasons = []
    if train.size < min_train_pairs:
        reasons.append(f"{train.size} generator-training pairs < {min_train_pairs} (p >= {train_threshold}, correct)")
    if classmap.size < min_heldout:
        reasons.append(f"{classmap.size} held-out inputs < {min_heldout} (p >= {classmap_threshold})")
    return GroupSplit(group_name, train, heldout, classmap, int(members.size), "; ".join(reasons))


@dataclass
class ClassMap:
    """A class-level map and everything needed to judge it (unit-range maps, [H, W])."""

    class_map: np.ndarray
    ranking: str
    alternative_map: np.ndarray
    top_k: np.ndarray
    order: np.ndarray
    fidelity_scores: np.ndarray
    medoid_scores: np.ndarray
    baselines: dict[str, np.ndarray]
    data_range: float
    heldout_ssim: float
    heldout_l1: float
    counts: dict[str, Any] = field(default_factory=dict)

    def save(self, path: Path, **extra: np.ndarray) -> Path:
        arrays = {
            "class_map": self.class_map, "alternative_map": self.alternative_map, "top_k": self.top_k,
            "order": self.order, "fidelity_scores": self.fidelity_scores, "medoid_scores": self.medoid_scores,
            "data_range": np.float64(self.data_range), "heldout_ssim": np.float64(self.heldout_ssim),
            "heldout_l1": np.float64(self.heldout_l1), "ranking": np.str_(self.ranking),
        }
        arrays.update({f"baseline_{k}": v for k, v in self.baselines.items()})
        arrays.update(extra)
        return atomic.save_npz(path, **arrays)

    @staticmethod
    def load(path: Path) -> dict[str, np.ndarray]:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}


def generator_quality(generated: np.ndarray, targets: np.ndarray, data_range: float) -> tuple[float, float]:
    """Mean SSIM and mean L1 between generated and true unit-range maps [N, H, W] (held-out split)."""
    if generated.shape[0] == 0:
        return float("nan"), float("nan")
    ssim = metrics.ssim(generated, targets, data_range=data_range)
    return float(np.mean(ssim)), float(np.mean(np.abs(generated.astype(np.float64) - targets)))


def build_class_map(
    generated: np.ndarray,
    targets: np.ndarray,
    *,
    data_range: float,
    ranking: str = "fidelity",
    top_k: int = 5,
    heldout_generated: np.ndarray | None = None,
    heldout_targets: np.ndarray | None = None,
) -> ClassMap:
    """Rank generated maps of the class-map inputs and pick the class map.

    Parameters
    ----------
    generated, targets : [N, H, W]
        G(x_i) and the input-specific maps e_i of the class-map inputs, both in unit range.
    data_range : 1 for unsigned maps, 2 for signed maps.
    ranking : ``fidelity`` (default) or ``medoid``; the other one's top map is kept as
        ``alternative_map``.
    heldout_generated, heldout_targets : optional [M, H, W]
        All held-out members, for the generator's held-out SSIM / L1 (defaults to the inputs).
    """
    if generated.ndim == 3 and generated.shape[0] == 0:
        raise InputError("no class-map inputs: no held-out input of this class was classified correctly with "
                         "confidence >= classmap_threshold; lower [classmaps] classmap_threshold or add inputs")
    if generated.shape != targets.shape or generated.ndim != 3:
        raise ValueError(f"generated and targets must be equal non-empty [N,H,W]; got {generated.shape}, {targets.shape}")
    fid_order, fid_scores = fidelity_ranking(generated, targets, data_range=data_range)
    med_order, med_scores = medoid_ranking(generated, data_range=data_range)
    primary, secondary = (fid_order, med_order) if ranking == "fidelity" else (med_order, fid_order)
    hg = generated if heldout_generated is None else heldout_generated
    ht = targets if heldout_targets is None else heldout_targets
    ssim, l1 = generator_quality(hg, ht, data_range)
    baselines = {
        "mean_input": targets.mean(axis=0),
        "median_input": np.median(targets, axis=0),
        "mean_generated": generated.mean(axis=0),
    }
    return ClassMap(
        class_map=generated[primary[0]], ranking=ranking, alternative_map=generated[secondary[0]],
        top_k=generated[primary[:top_k]], order=primary, fidelity_scores=np.asarray(fid_scores),
        medoid_scores=np.asarray(med_scores), baselines=baselines, data_range=float(data_range),
        heldout_ssim=ssim, heldout_l1=l1,
    )
