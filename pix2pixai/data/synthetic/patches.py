"""Simulated 64x64 survey image patches in three classes, with ground-truth relevance masks.

Why: the "any labelled image survey" path (config ``kind = "image"``) needs a data set whose classes
are defined by *where* something is in the image, so that explanation maps and class maps can be
checked against the truth. The classes follow light-echo searches in wide-field survey patches:

==============  =============================================================  ==========================
class           what defines it (the masked pixels)                             parameters (U = uniform)
==============  =============================================================  ==========================
``light_echo``  a faint, broad, filamentary arc of a ring centred outside the  amplitude U(2, 4) sigma,
                patch (65 %) or a whole ring inside it (35 %); a second         radial width U(1.5, 3) px,
                concentric arc 30 % of the time                                  ring radius U(10, 24) px
``point_source``  1-3 bright stars (Gaussian PSF)                               peak U(15, 60) sigma,
                                                                                PSF sigma U(1.2, 2) px
``streak``      one straight, narrow satellite trail or bleed streak, across    peak U(6, 25) sigma,
                the patch (60 %) or a segment of it                              width U(0.7, 1.3) px
==============  =============================================================  ==========================

Every patch also has a sky gradient, Gaussian noise (sigma = 1) and Poisson(1) faint field stars
(peak U(3, 10) sigma), which are *not* in the mask: they are what all classes share. A component's
mask holds the pixels where its noiseless image exceeds ``MASK_FRACTION`` of its own peak.

Patches are sky-subtracted (median) and divided by 10 noise sigmas, so 0 is the sky (what occlusion
and deletion put in) and a 10-sigma source is 1.0. The same seed gives identical arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pix2pixai.errors import InputError

PATCH_CLASSES: tuple[str, ...] = ("light_echo", "point_source", "streak")

#: A component's mask: noiseless pixels above this fraction of the component's own peak.
MASK_FRACTION = 0.25
#: Pixel values are in units of this many background noise sigmas.
SIGMA_UNITS = 10.0


@dataclass(frozen=True)
class SimulatedPatches:
    """images float32 [N, size, size, 1]; labels int [N] (index into ``class_names``); masks bool [N, size, size]."""

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    class_names: tuple[str, ...]


def simulate_patches(n_per_class: int, seed: int = 0, *, size: int = 64,
                     classes: tuple[str, ...] = PATCH_CLASSES) -> SimulatedPatches:
    """``n_per_class`` patches of each class in ``classes`` (in that order), seeded."""
    unknown = [c for c in classes if c not in PATCH_CLASSES]
    if unknown:
        raise InputError(f"classes {unknown} unknown; expected some of {', '.join(PATCH_CLASSES)}")
    if n_per_class < 1 or size < 16:
        raise InputError(f"n_per_class={n_per_class}, size={size}: expected n_per_class >= 1 and size >= 16")
    rng = np.random.default_rng(seed)
    grid = np.mgrid[0:size, 0:size].astype(np.float64)
    draw = {"light_echo": _light_echo, "point_source": _point_sources, "streak": _streak}
    images, masks, labels = [], [], []
    for k, name in enumerate(classes):
        for _ in range(n_per_class):
            signal, mask = draw[name](rng, grid, size)
            raw = signal + _background(rng, grid, size)
            images.append((raw - np.median(raw)) / SIGMA_UNITS)
            masks.append(mask)
            labels.append(k)
    return SimulatedPatches(images=np.asarray(images, np.float32)[..., None], labels=np.asarray(labels, np.int64),
                            masks=np.asarray(masks, bool), class_names=tuple(classes))


def _gaussian_star(grid: np.ndarray, row: float, col: float, peak: float, sigma: float) -> np.ndarray:
    return peak * np.exp(-((grid[0] - row) ** 2 + (grid[1] - col) ** 2) / (2 * sigma**2))


def _background(rng: np.random.Generator, grid: np.ndarray, size: int) -> np.ndarray:
    """Sky gradient + faint field stars + unit Gaussian noise: what every class shares (not masked)."""
    slope = rng.normal(0.0, 0.02, size=2)
    sky = slope[0] * (grid[0] - size / 2) + slope[1] * (grid[1] - size / 2)
    for _ in range(rng.poisson(1.0)):
        row, col = rng.uniform(2, size - 2, size=2)
        sky += _gaussian_star(grid, row, col, rng.uniform(3, 10), rng.uniform(1.0, 1.8))
    return sky + rng.normal(0.0, 1.0, size=grid.shape[1:])


def _component_mask(component: np.ndarray) -> np.ndarray:
    peak = component.max()
    return component > MASK_FRACTION * peak if peak > 0 else np.zeros(component.shape, bool)


def _point_sources(rng: np.random.Generator, grid: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    signal, mask = np.zeros(grid.shape[1:]), np.zeros(grid.shape[1:], bool)
    for _ in range(rng.integers(1, 4)):
        row, col = rng.uniform(6, size - 6, size=2)
        star = _gaussian_star(grid, row, col, rng.uniform(15, 60), rng.uniform(1.2, 2.0))
        signal += star
        mask |= _component_mask(star)
    return signal, mask


def _light_echo(rng: np.random.Generator, grid: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A broad arc with brightness varying along it (filaments), as scattered light of an outburst."""
    centre = np.full(2, size / 2)
    if rng.random() < 0.35:  # whole ring inside the patch
        centre = centre + rng.uniform(-6, 6, size=2)
        radius = rng.uniform(10, 24)
    else:  # an arc of a large ring centred off the patch, passing near the middle
        angle = rng.uniform(0, 2 * np.pi)
        distance = rng.uniform(40, 90)
        centre = centre + distance * np.array([np.sin(angle), np.cos(angle)])
        radius = distance + rng.uniform(-12, 12)
    dr, dc = grid[0] - centre[0], grid[1] - centre[1]
    r, theta = np.hypot(dr, dc), np.arctan2(dr, dc)
    signal = np.zeros(grid.shape[1:])
    for ring in range(2 if rng.random() < 0.3 else 1):
        width = rng.uniform(1.5, 3.0)
        filaments = 1 + 0.4 * np.sin(rng.integers(3, 9) * theta + rng.uniform(0, 2 * np.pi))
        radius_k = radius + ring * rng.uniform(5, 9)
        signal += rng.uniform(2, 4) * filaments * np.exp(-((r - radius_k) ** 2) / (2 * width**2))
    return signal, _component_mask(signal)


def _streak(rng: np.random.Generator, grid: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A straight trail through a point near the middle; a finite segment 40 % of the time."""
    through = size / 2 + rng.uniform(-12, 12, size=2)
    angle = rng.uniform(0, np.pi)
    direction = np.array([np.sin(angle), np.cos(angle)])
    dr, dc = grid[0] - through[0], grid[1] - through[1]
    across = dr * direction[1] - dc * direction[0]
    along = dr * direction[0] + dc * direction[1]
    profile = rng.uniform(6, 25) * np.exp(-across**2 / (2 * rng.uniform(0.7, 1.3) ** 2))
    if rng.random() < 0.4:
        half = rng.uniform(10, 30)
        profile = profile * (np.abs(along) <= half)
    return profile, _component_mask(profile)
