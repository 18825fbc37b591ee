"""Group names used everywhere: CRTS periodic-variable classes and ZTF real/bogus subcategories."""

from __future__ import annotations

from pix2pixai.errors import InputError

#: Output order of the real CRTS CNN (Drake et al. 2014 type ids 1, 2, 4, 5, 6, 8, 13); our own dmdt
#: CNN uses the same order so that models are interchangeable.
CRTS_CLASSES: tuple[str, ...] = ("EW", "EA", "RRab", "RRc", "RRd", "RS_CVn", "LPV")

#: Real/bogus subcategories of ZTF triplets; the first three are real, the last two bogus.
ZTF_SUBCATEGORIES: tuple[str, ...] = (
    "real_central",
    "real_modulo_noise",
    "real_mixture",
    "bogus_blanked",
    "bogus_non_blanked",
)

#: Binary real/bogus label of each subcategory (1 = real).
SUBCATEGORY_IS_REAL: dict[str, int] = {name: int(name.startswith("real")) for name in ZTF_SUBCATEGORIES}

_ALIASES = {"RSCVn": "RS_CVn", "RS CVn": "RS_CVn", "RSCVN": "RS_CVn", "RS_CVN": "RS_CVn"}


def canonical_class(name: str) -> str:
    """Return the canonical spelling of a CRTS class name (``RSCVn`` -> ``RS_CVn``).

    Names are matched exactly first, then through aliases, then case-insensitively.
    """
    if name in CRTS_CLASSES:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    lowered = {c.lower(): c for c in CRTS_CLASSES}
    key = name.strip().lower().replace(" ", "_")
    if key in lowered:
        return lowered[key]
    if key.replace("_", "") == "rscvn":
        return "RS_CVn"
    raise InputError(f"unknown CRTS class {name!r}; expected one of {', '.join(CRTS_CLASSES)} (or alias RSCVn)")
