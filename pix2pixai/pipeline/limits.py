"""Memory limits checked before a survey is simulated: sizes from configs against physical memory.

A config can ask for any ``survey.n_per_group``; ``1e9`` simulated triplets would fill every byte of
the machine before the first one is saved, and the system's out-of-memory killer then ends some
process, not necessarily ours. So the data step's peak memory is estimated from the config
(rows x bytes per row, with the simulator's copies) and a run whose estimate exceeds a fraction of
physical memory is refused up front, naming the estimate and the limit; ``--force`` lets those who
know go on.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from pix2pixai.data.classes import CRTS_CLASSES, ZTF_SUBCATEGORIES
from pix2pixai.data.dmdt_images import DMDT_PRESETS
from pix2pixai.data.synthetic.patches import PATCH_CLASSES
from pix2pixai.errors import InputError
from pix2pixai.rundir.config import RunConfig

#: Share of physical memory a survey's data may take (the classifier and explanations need the rest).
MEMORY_FRACTION = 0.5

#: Copies of the inputs alive at the peak of the data step (simulated array, float32 copy, saved archive).
_COPIES = 3

#: A simulated light curve: up to ~500 points of mjd, mag, magerr (float64) and band.
_CURVE_BYTES = 500 * 4 * 8

#: Simulated triplets and patches: image side, channels, and a bool relevance mask per image.
_TRIPLET_SIDE, _TRIPLET_CHANNELS = 63, 3
_PATCH_SIDE = 64


def memory_limit() -> int:
    """Bytes a survey's data may take: :data:`MEMORY_FRACTION` of physical memory (``os.sysconf``)."""
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * MEMORY_FRACTION)


def simulated_bytes(config: RunConfig) -> tuple[int, int, int]:
    """``(rows, bytes per row, estimated peak bytes)`` of a simulated survey's data step (0 rows when
    the survey reads files, whose size the files bound)."""
    survey = config.survey
    if survey.source != "simulate":
        return 0, 0, 0
    if survey.kind == "dmdt":
        # an unknown preset is refused by the data step itself; estimate it as the largest one
        pixels = (DMDT_PRESETS[survey.preset].shape[0] * DMDT_PRESETS[survey.preset].shape[1]
                  if survey.preset in DMDT_PRESETS else max(p.shape[0] * p.shape[1] for p in DMDT_PRESETS.values()))
        groups = len(survey.groups) or len(CRTS_CLASSES)
        per_row = pixels * max(1, len(survey.bands)) * 4 + _CURVE_BYTES
    elif survey.kind == "triplet":
        groups = len(ZTF_SUBCATEGORIES)
        per_row = _TRIPLET_SIDE ** 2 * (_TRIPLET_CHANNELS * 4 + 1)
    else:
        groups = len(survey.groups) or len(PATCH_CLASSES)
        per_row = _PATCH_SIDE ** 2 * (4 + 1)
    rows = survey.n_per_group * groups
    return rows, per_row, rows * per_row * _COPIES


def check_memory(configs: Sequence[RunConfig], *, force: bool = False) -> None:
    """Refuse a config whose simulated data would not fit (``InputError`` with estimate and limit)."""
    if force:
        return
    limit = memory_limit()
    for config in configs:
        rows, per_row, peak = simulated_bytes(config)
        if peak > limit:
            raise InputError(
                f"{config.source_file}: survey.n_per_group = {config.survey.n_per_group} gives {rows:,} inputs of "
                f"{per_row:,} bytes, about {_size(peak)} at the data step's peak, over the limit of {_size(limit)} "
                f"({MEMORY_FRACTION:.0%} of physical memory); lower n_per_group, or --force to go on")


def _size(n: int) -> str:
    """``n`` bytes in the largest decimal unit that keeps a number >= 1 (``3.2 GB``)."""
    units = ("bytes", "kB", "MB", "GB", "TB", "PB")
    k = 0
    while k < len(units) - 1 and n >= 1000 ** (k + 1):
        k += 1
    return f"{n / 1000 ** k:.1f} {units[k]}"
