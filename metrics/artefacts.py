"""Upsampling and padding artefacts of generated maps: checkerboard power and a frame at the border.

For generated maps g_n and their targets t_n (n = 1..N, each H x W):

* **Checkerboard** (transposed convolutions with a stride that does not divide the kernel paint it,
  Odena et al. 2016): the Nyquist pattern ``s[i, j] = (-1)^(i + j)`` of the error ``d_n = g_n - t_n``
  has coefficient ``c_n = mean_ij(d_n s)`` (s is +-1, so this is the least-squares projection on s),
  and the pattern ``c_n s`` has mean power ``c_n^2``. ``checkerboard_power_fraction`` is
  ``mean_n(c_n^2) / var(t)``, the checkerboard's power as a fraction of the targets' variance over
  all their pixels: 1 when the error is a checkerboard as strong as the targets' spread, 0 when the
  error has no such component. Threshold of issue 17: <= 0.05.
* **Frame** (zero-padded convolutions see the image edge as a step): ``border_ring_offset`` of a map
  is the mean of its outer one-pixel ring minus the mean of the next ring in; a bright (dark) frame
  gives a large positive (negative) value, a smooth map about 0. ``border_ring_excess`` compares
  generated maps to their targets in units of the targets' standard deviation:
  ``(mean_n offset(g_n) - mean_n offset(t_n)) / std(t)``. Threshold of issue 17: |excess| <= 0.5.

Maps are [N, H, W] (a trailing channel axis of 1 is accepted) and are compared on the pixels given,
so crop padded maps to their original grid first.
"""

from __future__ import annotations

import numpy as np


def _maps(maps: np.ndarray, name: str) -> np.ndarray:
    """float64 [N, H, W] from [N, H, W] or [N, H, W, 1], H and W >= 3."""
    array = np.asarray(maps, np.float64)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3 or min(array.shape[1:]) < 3:
        raise ValueError(f"{name} must be [N, H, W] (or [N, H, W, 1]) with H, W >= 3, got shape {np.shape(maps)}")
    return array


def checkerboard_power_fraction(generated: np.ndarray, targets: np.ndarray) -> float:
    """``mean_n(c_n^2) / var(targets)`` with ``c_n = mean_ij((g_n - t_n)[i, j] (-1)^(i + j))`` (module doc);
    NaN when the targets are constant."""
    g, t = _maps(generated, "generated"), _maps(targets, "targets")
    if g.shape != t.shape:
        raise ValueError(f"generated {g.shape} and targets {t.shape} must have equal shapes")
    rows, cols = np.indices(t.shape[1:])
    pattern = np.where((rows + cols) % 2 == 0, 1.0, -1.0)
    coefficients = ((g - t) * pattern).mean(axis=(1, 2))
    variance = float(t.var())
    return float("nan") if variance == 0 else float(np.mean(coefficients**2) / variance)


def border_ring_offset(maps: np.ndarray) -> np.ndarray:
    """Per map [N]: mean of the outer one-pixel ring minus the mean of the ring one pixel further in."""
    m = _maps(maps, "maps")

    def ring_mean(a: np.ndarray) -> np.ndarray:
        inner = a[:, 1:-1, 1:-1]
        ring_sum = a.sum(axis=(1, 2)) - inner.sum(axis=(1, 2))
        return ring_sum / (a.shape[1] * a.shape[2] - inner.shape[1] * inner.shape[2])

    return ring_mean(m) - ring_mean(m[:, 1:-1, 1:-1])


def border_ring_excess(generated: np.ndarray, targets: np.ndarray) -> float:
    """``(mean border_ring_offset(generated) - mean border_ring_offset(targets)) / std(targets)``;
    NaN when the targets are constant."""
    t = _maps(targets, "targets")
    spread = float(t.std())
    if spread == 0:
        return float("nan")
    return float((border_ring_offset(generated).mean() - border_ring_offset(t).mean()) / spread)
