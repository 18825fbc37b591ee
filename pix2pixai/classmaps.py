"""Class-level maps from cross-fitted pix2pix generators (the pix2piXAI step).

For one survey and one explanation method, over the classifier's *test* split (never its training
split):

1. :func:`assign_folds` puts every explained input in one of K seeded folds, stratified by group.
   For each fold a generator trained on the other folds predicts the fold's maps, so every input
   gets an out-of-fold map G(x_i) from a generator that never saw it.
2. :func:`cell_skill`: per (group, method) cell, how much better G(x_i) predicts the input's own
   map e_i than the group's out-of-fold mean map does (``pix2pixai.metrics.skill``), with a paired
   bootstrap interval, and the same number for the k-nearest-neighbour reference.
3. :func:`class_map_inputs` picks the group's confident, correctly classified inputs;
   :func:`selection_evaluation` splits them (seeded) into a *selection* half, over which the
   generated maps are ranked into the class map, and an *evaluation* half that only scores it.
4. :func:`build_class_map` ranks the generated maps. ``fidelity``: SSIM(G(x_i), e_i), the map the
   generator learnt best; ``medoid``: mean SSIM of G(x_i) to every other G(x_j), the most typical
   generated map. The top-ranked generated map is the class map; the other ranking's top map, the
   top-k and the plain baselines (pixel-wise mean and median of the input-specific maps, mean of the
   generated maps) are stored beside it so that :mod:`pix2pixai.compare` can test which is most
   faithful.

All maps here are in one unit range per (survey, method) ([0, 1] unsigned, [-1, 1] signed) so that
SSIM uses a fixed ``data_range`` (1 or 2) and is computed in float64.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pix2pixai import metrics
from pix2pixai.metrics.ranking import fidelity_ranking, medoid_ranking
from pix2pixai.metrics.skill import knn_maps, l1_per_input, out_of_fold_means, skill_interval
from pix2pixai import atomic
from pix2pixai.errors import InputError

#: Neighbours of the kNN reference predictor.
KNN_NEIGHBOURS = 5


def assign_folds(groups: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold [N] (0..K-1) of each input of ``groups`` [N], stratified: each group's members in a
    seeded random order are dealt to the folds in turn, so every fold holds about 1/K of each group."""
    if n_folds < 2:
        raise ValueError(f"cross-fitting needs >= 2 folds; got {n_folds}")
    groups = np.asarray(groups)
    rng = np.random.default_rng(seed)
    folds = np.empty(len(groups), np.int64)
    for group in np.unique(groups):
        members = rng.permutation(np.flatnonzero(groups == group))
        folds[members] = np.arange(len(members)) % n_folds
    return folds


@dataclass(frozen=True)
class CrossFit:
    """A survey's cross-fitting partition: the explained test-split inputs that get out-of-fold maps.

    ``positions`` [N]: indices into the test split (and its map store); ``groups`` [N] their group
    names; ``folds`` [N]; ``prob`` [N] the classifier's probability of the group's class and
    ``correct`` [N] whether it predicted the input's class. ``skipped``: groups left out (too few
    explained inputs) and why.
    """

    positions: np.ndarray
    groups: np.ndarray
    folds: np.ndarray
    prob: np.ndarray
    correct: np.ndarray
    n_folds: int
    skipped: dict[str, str]

    def train(self, fold: int, group: str | None = None) -> np.ndarray:
        """Rows (into these arrays) that train ``fold``'s generator: every other fold (of ``group``)."""
        return np.flatnonzero((self.folds != fold) & self._of(group))

    def predict(self, fold: int, group: str | None = None) -> np.ndarray:
        """Rows whose out-of-fold maps ``fold``'s generator predicts (of ``group``)."""
        return np.flatnonzero((self.folds == fold) & self._of(group))

    def members(self, group: str | None = None) -> np.ndarray:
        """Rows of ``group`` (every row for None)."""
        return np.flatnonzero(self._of(group))

    def counts(self) -> dict[str, dict[str, Any]]:
        """Per group: explained inputs, inputs per fold and why it is skipped (``""`` when it is not)."""
        out = {}
        for group in dict.fromkeys([*np.unique(self.groups).tolist(), *self.skipped]):
            folds = self.folds[self.groups == group]
            out[group] = {"members": int(folds.size),
                          "per_fold": np.bincount(folds, minlength=self.n_folds).tolist(),
                          "skipped": self.skipped.get(group, "")}
        return out

    def _of(self, group: str | None) -> np.ndarray:
        return np.ones(len(self.groups), bool) if group is None else self.groups == group


def cross_fit(group_names: list[str], group_of: np.ndarray, prob: np.ndarray, correct: np.ndarray, *,
              n_folds: int, min_inputs: int, seed: int) -> CrossFit:
    """The :class:`CrossFit` of a test split whose inputs have group positions ``group_of`` [N]
    (into ``group_names``), probability of their group's class ``prob`` [N] and ``correct`` [N].
    Groups with fewer than ``min_inputs`` explained inputs (or fewer than two, which cannot be
    cross-fitted) are left out and named in ``skipped``."""
    needed = max(min_inputs, 2)
    sizes = np.bincount(group_of, minlength=len(group_names))
    skipped = {name: f"{sizes[g]} explained inputs < {needed}" for g, name in enumerate(group_names)
               if sizes[g] < needed}
    positions = np.flatnonzero(sizes[group_of] >= needed)
    groups = np.asarray(group_names, dtype=str)[group_of[positions]]
    return CrossFit(positions=positions, groups=groups, folds=assign_folds(groups, n_folds, seed),
                    prob=prob[positions], correct=correct[positions], n_folds=n_folds, skipped=skipped)


@dataclass(frozen=True)
class OutOfFold:
    """One method's out-of-fold arrays, exactly the inputs skill is computed over (``oof_<method>.npz``).

    ``inputs`` [N, H, W, C] float32 classifier inputs; ``targets`` [N, H, W] their reduced maps and
    ``generated`` [N, H, W] the out-of-fold generated maps, both in one unit scale per (survey,
    method) (``scale``: raw = unit * scale); ``group`` [N] str, ``fold`` [N] int, ``prob`` [N] the
    classifier's probability of the group's class.
    """

    inputs: np.ndarray
    targets: np.ndarray
    generated: np.ndarray
    group: np.ndarray
    fold: np.ndarray
    prob: np.ndarray
    scale: float

    def save(self, path: Path) -> Path:
        return atomic.save_npz(path, inputs=self.inputs.astype(np.float32), targets=self.targets,
                               generated=self.generated, group=self.group.astype(str), fold=self.fold,
                               prob=self.prob, scale=np.float64(self.scale))

    @classmethod
    def load(cls, path: Path) -> OutOfFold:
        with np.load(path) as data:
            return cls(**{name: data[name] for name in ("inputs", "targets", "generated", "group", "fold", "prob")},
                       scale=float(data["scale"]))

    def skill(self, group: str, *, min_inputs: int, seed: int) -> dict[str, Any]:
        """:func:`cell_skill` of ``group``."""
        return cell_skill(self.inputs, self.targets, self.generated, self.group, self.fold, group,
                          min_inputs=min_inputs, seed=seed)


@dataclass(frozen=True)
class ClassMapInputs:
    """One group's class-map inputs (positions in its survey's out-of-fold arrays), split into the
    ``selection`` half (ranked into the class map) and the ``evaluation`` half (scores it).

    ``threshold_used``: the probability the inputs reach (the configured threshold, or the lowest
    probability among the most confident inputs when too few reach it); ``reason`` says why the
    group has no class map (empty when it has one)."""

    group: str
    selection: np.ndarray
    evaluation: np.ndarray
    threshold_used: float | None
    reason: str = ""

    @property
    def n_inputs(self) -> int:
        return int(self.selection.size + self.evaluation.size)


def class_map_inputs(group: str, members: np.ndarray, correct: np.ndarray, prob: np.ndarray, *, threshold: float,
                     min_inputs: int, seed: int) -> ClassMapInputs:
    """The class-map inputs of ``group`` among ``members`` (positions into ``correct`` / ``prob``
    [N]: whether the classifier got each input right, and its probability of the group's class).

    The correctly classified members with ``prob >= threshold``; when fewer than ``min_inputs``
    reach it, the ``min_inputs`` most confident correct members (``threshold_used`` records the
    lowest probability taken); fewer than ``min_inputs`` correct members give no class map.
    """
    right = members[correct[members]]
    confident = right[prob[right] >= threshold]
    empty = np.zeros(0, np.int64)
    if confident.size >= min_inputs:
        chosen, used = confident, float(threshold)
    elif right.size >= min_inputs:
        chosen = np.sort(right[np.argsort(-prob[right], kind="stable")[:min_inputs]])
        used = float(prob[chosen].min())
    else:
        return ClassMapInputs(group, empty, empty, None,
                              f"{right.size} correctly classified test inputs < {min_inputs}")
    selection, evaluation = selection_evaluation(chosen, seed)
    return ClassMapInputs(group, selection, evaluation, used)


def selection_evaluation(inputs: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(selection, evaluation) sorted halves of ``inputs`` by a seeded permutation; the selection
    half takes the odd one out, because ranking needs the inputs more than scoring does."""
    order = np.random.default_rng(seed).permutation(np.asarray(inputs))
    half = (len(order) + 1) // 2
    return np.sort(order[:half]), np.sort(order[half:])


def cell_skill(inputs: np.ndarray, targets: np.ndarray, generated: np.ndarray, groups: np.ndarray,
               folds: np.ndarray, group: str, *, min_inputs: int, seed: int) -> dict[str, Any]:
    """Out-of-fold skill of one group's generated maps and of the kNN reference, with 95% paired
    bootstrap intervals (``metrics.skill``).

    ``inputs`` [N, H, W, C], ``targets`` and ``generated`` [N, H, W] (one unit scale), ``groups``
    and ``folds`` [N]: a survey's out-of-fold arrays for one method. The reference is each input's
    out-of-fold group mean map; the kNN predictor averages the maps of the ``KNN_NEIGHBOURS``
    nearest other-fold inputs of the group. A group with fewer than ``min_inputs`` inputs gets
    nulls and a ``skill_reason``.
    """
    members = np.asarray(groups) == group
    n = int(members.sum())
    if n < min_inputs:
        return {"skill": None, "skill_ci": None, "knn_skill": None, "knn_skill_ci": None, "skill_positive": None,
                "skill_reason": f"{n} explained inputs < {min_inputs}"}
    reference = l1_per_input(out_of_fold_means(targets, groups, folds)[members], targets[members])
    knn = knn_maps(inputs[members], targets[members], groups[members], folds[members], k=KNN_NEIGHBOURS)
    skill, low, high = skill_interval(l1_per_input(generated[members], targets[members]), reference, seed=seed)
    knn_skill, knn_low, knn_high = skill_interval(l1_per_input(knn, targets[members]), reference, seed=seed)
    return {"skill": skill, "skill_ci": [low, high], "knn_skill": knn_skill, "knn_skill_ci": [knn_low, knn_high],
            "skill_positive": bool(low > 0), "skill_reason": None}


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
    """Mean SSIM (border ``same``: every pixel, the map's edge included) and mean L1 between generated
    and true unit-range maps [N, H, W] (a group's out-of-fold inputs)."""
    if generated.shape[0] == 0:
        return float("nan"), float("nan")
    ssim = metrics.ssim(generated, targets, data_range=data_range, border="same")
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
        G(x_i) and the input-specific maps e_i of the selection inputs, both in unit range.
    data_range : 1 for unsigned maps, 2 for signed maps.
    ranking : ``fidelity`` (default) or ``medoid``; the other one's top map is kept as
        ``alternative_map``.
    heldout_generated, heldout_targets : optional [M, H, W]
        Out-of-fold maps of all the group's inputs, for the held-out SSIM / L1 (defaults to the inputs).
    """
    if generated.ndim == 3 and generated.shape[0] == 0:
        raise InputError("no class-map inputs: no input of this class was classified correctly with "
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
