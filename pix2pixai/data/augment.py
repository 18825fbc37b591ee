"""Resampled light curves for classifier training: a fresh, class-balanced set of dmdts every epoch.

A fixed set of oversampled copies is memorised within a few epochs on the ~3,600 real CRTS training
curves (validation loss rises from the second epoch on). Re-drawing every epoch's inputs from the
curves themselves gives the classifier a new view of each object each time. Two perturbations, both
physically sound for survey light curves:

* magnitudes + N(0, magerr / 3) (:func:`pix2pixai.data.dmdt_images.augment_noise`, the original recipe);
* each point kept with probability ``keep_fraction``: the same object seen with a sparser visit
  pattern, as a shorter baseline or lost nights give. The dmdt's pair normalisation (255 / C(n, 2))
  keeps the image scale independent of the number of points kept.
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np

from pix2pixai.data.dmdt_images import DmdtPreset, augment_noise, dmdt
from pix2pixai.data.lightcurves import LightCurve
from pix2pixai.errors import InputError


def resampled_dmdts(curves: Sequence[LightCurve], rng: np.random.Generator, *, keep_fraction: float = 0.8,
                    preset: str | DmdtPreset = "crts") -> np.ndarray:
    """dmdts [N, n_dm, n_dt, 1] float32 of one perturbed copy of each curve (noise, then point thinning).

    A copy that would keep fewer than 2 points keeps them all. ``keep_fraction = 1`` and zero errors
    give exactly :func:`pix2pixai.data.dmdt_images.dmdt` of the curves.
    """
    if not 0.0 < keep_fraction <= 1.0:
        raise InputError(f"resampled_dmdts: keep_fraction must be in (0, 1], got {keep_fraction}")
    times, mags = [], []
    for curve in curves:
        mag = augment_noise(curve.mag, curve.magerr, rng)
        kept = rng.random(curve.mjd.size) < keep_fraction
        if kept.sum() < 2:
            kept[:] = True
        times.append(curve.mjd[kept])
        mags.append(mag[kept])
    return dmdt(times, mags, preset=preset)[..., None].astype(np.float32)


class BalancedResampledEpochs(keras.utils.PyDataset):
    """``model.fit`` input: each epoch, ``per_class`` curves of every class re-drawn and re-binned.

    Curves are drawn with replacement when a class has fewer than ``per_class`` members, so the
    epoch's class prior is uniform (correct predictions to the data's prior with
    :func:`pix2pixai.trainers.priors.prior_shift`). Batches are (x [B, n_dm, n_dt, 1], y [B]); the epoch is
    redrawn in ``on_epoch_end`` from one seeded generator, so a run is reproducible from its seed.
    With ``features`` [N, F] (one row per curve, e.g. :func:`pix2pixai.data.features.lightcurve_features`
    of the unperturbed curves: a periodogram per copy per epoch would cost minutes), batches are
    ({"dmdt": x, "features": f}, y) for a two-input model.
    """

    def __init__(self, curves: Sequence[LightCurve], labels: np.ndarray, *, per_class: int, batch_size: int,
                 seed: int, keep_fraction: float = 0.8, preset: str | DmdtPreset = "crts",
                 features: np.ndarray | None = None) -> None:
        super().__init__()
        labels = np.asarray(labels)
        if labels.shape != (len(curves),):
            raise InputError(f"BalancedResampledEpochs: {len(curves)} curves but labels of shape {labels.shape}")
        if features is not None and (np.ndim(features) != 2 or len(features) != len(curves)):
            raise InputError(f"BalancedResampledEpochs: features must be [{len(curves)}, F] (one row per curve), "
                             f"got shape {np.shape(features)}")
        self._features = None if features is None else np.asarray(features, np.float32)
        if per_class < 1 or batch_size < 1:
            raise InputError(f"BalancedResampledEpochs: per_class and batch_size must be >= 1, "
                             f"got {per_class}, {batch_size}")
        self._curves, self._per_class, self._batch_size = list(curves), per_class, batch_size
        self._keep, self._preset = keep_fraction, preset
        self._members = [np.flatnonzero(labels == c) for c in np.unique(labels)]
        self._labels = labels
        self._rng = np.random.default_rng(seed)
        self._draw()

    def _draw(self) -> None:
        picks = np.concatenate([self._rng.choice(m, size=self._per_class, replace=self._per_class > m.size)
                                for m in self._members])
        picks = self._rng.permutation(picks)
        self.x = resampled_dmdts([self._curves[k] for k in picks], self._rng, keep_fraction=self._keep,
                                 preset=self._preset)
        self.y = self._labels[picks]
        self.f = None if self._features is None else self._features[picks]

    def __len__(self) -> int:
        return -(-len(self.y) // self._batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray | dict[str, np.ndarray], np.ndarray]:
        part = slice(index * self._batch_size, (index + 1) * self._batch_size)
        if self.f is None:
            return self.x[part], self.y[part]
        return {"dmdt": self.x[part], "features": self.f[part]}, self.y[part]

    def on_epoch_end(self) -> None:
        self._draw()
