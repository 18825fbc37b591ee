"""Data layer: light curves, dmdt images, ZTF alert triplets, subcategories, synthetic surveys.

Public names are re-exported lazily so that ``import pix2pixai.data`` stays cheap (no TensorFlow,
no astropy) until a name is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    # light curves
    "LightCurve": "pix2pixai.data.lightcurves",
    "read_lightcurves": "pix2pixai.data.lightcurves",
    "lightcurves_from_arrays": "pix2pixai.data.lightcurves",
    "read_lightcurves_npz": "pix2pixai.data.lightcurves",
    # dmdt images: the module is ``dmdt_images`` so that ``pix2pixai.data.dmdt`` is always the function
    # (a submodule named ``dmdt`` would replace it on the package whenever it is first imported)
    "dmdt": "pix2pixai.data.dmdt_images",
    "DMDT_PRESETS": "pix2pixai.data.dmdt_images",
    "DmdtPreset": "pix2pixai.data.dmdt_images",
    "augment_noise": "pix2pixai.data.dmdt_images",
    "augment_lightcurves": "pix2pixai.data.dmdt_images",
    "dmdt_counts": "pix2pixai.data.dmdt_images",
    "dmdt_from_lightcurves": "pix2pixai.data.dmdt_images",
    "dmdt_multiband": "pix2pixai.data.dmdt_images",
    "iter_dmdt_chunks": "pix2pixai.data.dmdt_images",
    "get_preset": "pix2pixai.data.dmdt_images",
    # per-curve features (period, folded shape) for a classifier's second input
    "FEATURE_NAMES": "pix2pixai.data.features",
    "lightcurve_features": "pix2pixai.data.features",
    # a dmdt attribution shared back to the observations (module name differs, as for dmdt)
    "observation_importance": "pix2pixai.data.lightcurve_importance",
    # cadence diagnostics
    "CadenceReport": "pix2pixai.data.cadence",
    "cadence_report": "pix2pixai.data.cadence",
    "suggest_dt_edges": "pix2pixai.data.cadence",
    # ZTF alerts
    "triplet_from_alert": "pix2pixai.data.alerts",
    "read_braai_training_set": "pix2pixai.data.alerts",
    "read_alert_packets": "pix2pixai.data.alerts",
    "cutouts_from_packet": "pix2pixai.data.alerts",
    "normalise_cutout": "pix2pixai.data.alerts",
    "triplets_from_raw_cutouts": "pix2pixai.data.alerts",
    # real/bogus subcategories
    "assign_subcategories": "pix2pixai.data.subcategories",
    "subcategory_features": "pix2pixai.data.subcategories",
    # synthetic surveys
    "simulate_periodic": "pix2pixai.data.synthetic.periodic",
    "simulate_triplets": "pix2pixai.data.synthetic.triplets",
    "TripletSet": "pix2pixai.data.synthetic.triplets",
    # group names
    "CRTS_CLASSES": "pix2pixai.data.classes",
    "ZTF_SUBCATEGORIES": "pix2pixai.data.classes",
    "canonical_class": "pix2pixai.data.classes",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pix2pixai.data' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
