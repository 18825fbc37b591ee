"""One fixed scale per (group, method): raw explanation maps <-> the generator's unit range.

The original work min-max scaled every map on its own, which throws away how strong one input's
explanation is relative to another's and makes a near-empty map look as loud as a strong one. Here
one scale is fitted on a generator's training maps (its validation part left out) and stored with the
generator, so ``from_unit(to_unit(m)) == m`` wherever ``|m| <= scale``.

* scale ``s`` = the ``percentile`` (default 99.5) of ``|m|`` over every pixel of every training map
  (a high percentile rather than the maximum, so one outlier pixel does not squash the rest);
  if that is 0 (very sparse maps) the maximum of ``|m|`` is used instead.
* unsigned methods (Grad-CAM, saliency; maps >= 0): ``u = clip(m / s, 0, 1)``; the generator's
  output is clipped to [0, 1].
* signed methods (blanking / occlusion, SHAP): ``u = clip(m / s, -1, 1)``, generator output clipped
  to [-1, 1]; the sign (evidence for vs against the class) is kept, zero stays zero.
* ``from_unit(u) = u * s`` (raw units of the producer).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MapScale:
    """Fixed linear scale of one (group, method)'s maps; JSON-serialisable via ``to_dict``."""

    scale: float
    signed: bool
    percentile: float = 99.5

    def __post_init__(self) -> None:
        if not np.isfinite(self.scale) or self.scale <= 0:
            raise ValueError(f"MapScale.scale must be finite and > 0, got {self.scale}")
        if not 0 < self.percentile <= 100:
            raise ValueError(f"MapScale.percentile must be in (0, 100], got {self.percentile}")

    @classmethod
    def fit(cls, maps: np.ndarray, *, signed: bool, percentile: float = 99.5) -> MapScale:
        """Fit on raw training maps (any shape); ``signed=False`` maps must be >= 0."""
        values = np.abs(np.asarray(maps, dtype=np.float64)).ravel()
        if values.size == 0:
            raise ValueError("cannot fit a MapScale on an empty map array")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"maps contain {int(np.sum(~np.isfinite(values)))} non-finite values")
        if not signed and np.min(maps) < 0:
            raise ValueError(f"signed=False but maps have negative values (min {float(np.min(maps)):.3g}); "
                             "pass signed=True for signed methods (blanking, SHAP)")
        scale = float(np.percentile(values, percentile))
        if scale == 0.0:
            scale = float(values.max())
        if scale == 0.0:
            raise ValueError(f"all {values.size} map values are zero: nothing for a generator to learn")
        return cls(scale=scale, signed=bool(signed), percentile=float(percentile))

    @property
    def data_range(self) -> float:
        """Width of the unit range, for SSIM: 1 for [0, 1], 2 for [-1, 1]."""
        return 2.0 if self.signed else 1.0

    @property
    def unit_low(self) -> float:
        """Lower end of the unit range: -1 signed, 0 unsigned."""
        return -1.0 if self.signed else 0.0

    def to_unit(self, maps: np.ndarray) -> np.ndarray:
        """Raw maps -> unit range, ``clip(m / scale, unit_low, 1)``, float32, same shape."""
        unit = np.asarray(maps, dtype=np.float32) / np.float32(self.scale)
        return np.clip(unit, self.unit_low, 1.0)

    def from_unit(self, unit: np.ndarray) -> np.ndarray:
        """Unit range -> raw producer units, ``u * scale``, float32, same shape."""
        return np.asarray(unit, dtype=np.float32) * np.float32(self.scale)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``generator.json``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MapScale:
        """Inverse of ``to_dict``."""
        return cls(scale=float(data["scale"]), signed=bool(data["signed"]), percentile=float(data["percentile"]))
