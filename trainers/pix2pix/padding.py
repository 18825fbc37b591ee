"""Pad images to a power-of-two square for the U-Net, and crop generator outputs back.

Why pad and not resize: resizing a 22x24 dmdt to 32x32 interpolates between bins and smears counts
across dm/dt edges; padding keeps every original bin value exact and the crop recovers the input
grid one-to-one. The U-Net halves the side at every level, so the side must be a power of two to
reach a 1x1 (or 2x2) bottleneck without odd sizes.

Layout: the original image sits in the top-left corner, rows ``[:H]`` and columns ``[:W]``; the rest
(bottom rows, right columns) is filled with **zero**. Zero is the natural empty value for both
inputs (an empty dmdt bin; background of a normalised cutout) and targets (no attribution).
"""

from __future__ import annotations

import numpy as np


def pow2_side(hw: tuple[int, int]) -> int:
    """Smallest power of two >= max(H, W): 22x24 -> 32, 26x26 -> 32, 63x63 -> 64."""
    h, w = int(hw[0]), int(hw[1])
    if h < 1 or w < 1:
        raise ValueError(f"image height/width must be >= 1, got {(h, w)}")
    return 1 << (max(h, w) - 1).bit_length()


def pad_to_pow2(x: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Zero-pad ``x`` [N, H, W, C] bottom/right to [N, S, S, C], S = ``pow2_side((H, W))``.

    Returns
    -------
    padded : np.ndarray
        [N, S, S, C] float32, ``padded[:, :H, :W] == x``, zero elsewhere.
    original_hw : tuple[int, int]
        (H, W), what ``crop`` needs to undo the padding.
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C], got shape {x.shape}")
    hw = (int(x.shape[1]), int(x.shape[2]))
    side = pow2_side(hw)
    padded = np.pad(x.astype(np.float32, copy=False), ((0, 0), (0, side - hw[0]), (0, side - hw[1]), (0, 0)))
    return padded, hw


def crop(y: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Undo ``pad_to_pow2``: ``y[:, :H, :W]`` of a [N, S, S, C] batch."""
    y = np.asarray(y)
    h, w = int(hw[0]), int(hw[1])
    if y.ndim != 4 or y.shape[1] < h or y.shape[2] < w:
        raise ValueError(f"cannot crop shape {y.shape} to height/width {(h, w)}: expected [N, >={h}, >={w}, C]")
    return y[:, :h, :w]


def valid_mask(hw: tuple[int, int], side: int) -> np.ndarray:
    """[1, S, S, 1] float32: 1 on the original (H, W) pixels, 0 on the padding."""
    mask = np.zeros((1, side, side, 1), np.float32)
    mask[:, : hw[0], : hw[1]] = 1.0
    return mask
