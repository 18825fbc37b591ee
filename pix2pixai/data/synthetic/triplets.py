"""Synthetic ZTF science/reference/difference (SCI, REF, DIFF) triplets with ground-truth relevance masks.

Why: explanation maps can only be scored against the truth when the truth is known. Every simulated
triplet carries a boolean mask of the pixels that make it real (the transient's PSF core) or bogus
(the artefact's pixels), and a subcategory from :data:`pix2pixai.data.classes.ZTF_SUBCATEGORIES`.

Physical model (pixel units: 1 px ~ 1 arcsec, counts in ADU)
-----------------------------------------------------------
Point sources are Moffat profiles normalised to total flux ``F``::

    I(r) = F (beta - 1) / (pi alpha^2) * (1 + r^2 / alpha^2)^(-beta),
    FWHM = 2 alpha sqrt(2^(1/beta) - 1)

sampled at pixel centres. ``SCI = sky_s + stars(PSF_s) + transient + artefacts + noise_s`` clipped at the
saturation level; ``REF = sky_r + stars(PSF_r) + noise_r`` is a deep co-add (noise divided by
``sqrt(n_coadd)``, sharper PSF); ``DIFF = (SCI - sky_s) - (REF model in PSF_s, shifted by the astrometric
misalignment and scaled by the photometric-scale error) - noise_r``. DIFF therefore shares SCI's noise
realisation, saturated stars leave residuals, and misalignment leaves dipoles, as in real subtractions.
Noise is Gaussian with variance ``max(signal, 0) / gain + read^2`` (Poisson + read noise). Pixels that a
pipeline blanks are NaN in ``raw`` and exactly 0 after normalisation.

Parameter ranges (U = uniform, logU = log-uniform, calibrated on 400 fink alerts and 39 BTSbot triplets)

==========================  ======================  ===============================================
parameter                   range                   why / real counterpart
==========================  ======================  ===============================================
FWHM SCI                    U(1.6, 3.4) px          fink ``fwhm`` 5-95 %: 1.2-3.4 px
FWHM REF / FWHM SCI         U(0.75, 0.95)           co-adds are built from the best-seeing frames
Moffat beta                 U(2.5, 4.5)             ZTF PSF wings
sky SCI                     logU(20, 400) ADU       fink SCI median 21-333 ADU (5-95 %)
sky REF / sky SCI           U(0.85, 1.15)           references are scaled to the science zero point
gain                        U(1.5, 4) e-/ADU        effective: SCI noise 5-15 ADU as in fink
read noise                  U(2, 4) ADU
REF co-add depth            U(15, 40) frames        fink REF noise ~ SCI noise / 4
saturation                  U(25000, 50000) ADU     fink maxima up to ~49000 ADU
field stars per cutout      Poisson(U(2, 10))       at most 16, positions U(2, 60) px
field-star SCI peak         Pareto(3 sigma, 0.7)    N(>S) ~ S^-0.7; 1 % > 2000 sigma (saturate)
misalignment per axis       N(0, 0.08) px           real_central, bogus_non_blanked; 0 for
                                                    real_modulo_noise, 0.25 mixture, 0.35 blanked
photometric-scale error     N(0, 0.01)              0 / 0.03 / 0.04 as above
transient peak (central)    logU(15, 150) sigma     offset N(0, 0.4) px; half are variable stars
                                                    (REF peak logU(10, 3000) sigma), 40 % of them
                                                    fading: negative detections, DIFF inverted
transient peak (noise)      U(5, 10) sigma          faint source, nothing else in DIFF
transient peak (mixture)    logU(8, 60) sigma       + host: exp. disc, scale 2-6 px, 3-9 px away,
                                                    1-3 % subtraction-scale residual
dipole misalignment         U(0.6, 1.6) px          central star 30-1000 sigma, badly registered
cosmic ray                  1-3 px, 20-300 sigma    sharper than any PSF, SCI only
bad column                  10-60 sigma             one column through the centre, SCI + DIFF
ghost                       ring r 4-10 px          3-10 sigma, width 1.5 px, SCI only
cold pixels                 1-2 px, 15-40 sigma     below sky; a negative detection (DIFF inverted)
blanked region              strip 6-28 px, box      NaN in all channels; centre 9x9 never blanked
                            7-13 px, half-plane     (fink: 75 of 400 alerts carry NaN regions)
==========================  ======================  ===============================================

Everything is vectorised over the batch on one shared coordinate grid; the same seed gives identical
arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from pix2pixai.data.classes import SUBCATEGORY_IS_REAL, ZTF_SUBCATEGORIES
from pix2pixai.errors import InputError

SIZE = 63
CENTRE = (SIZE - 1) / 2.0
MAX_FIELD_STARS = 16
#: Row offsets (y) and column offsets (x) of every pixel from the cutout centre, shape [63, 63].
GRID_Y, GRID_X = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) - CENTRE

Normalisation = Literal["image", "row"]


@dataclass(frozen=True)
class TripletSet:
    """A batch of simulated triplets.

    Attributes
    ----------
    images : float32 [N, 63, 63, 3]
        Channels SCI, REF, DIFF; NaN -> 0 then L2-normalised per channel (braai convention).
    masks : bool [N, 63, 63]
        Ground-truth relevance: the pixels that make the triplet real or bogus.
    subcategory : str [N]
        One of ``ZTF_SUBCATEGORIES``.
    label : int [N]
        1 = real, 0 = bogus.
    raw : float32 [N, 63, 63, 3] or None
        Unnormalised ADU with blanked pixels as NaN, like raw alert cutouts.
    """

    images: np.ndarray
    masks: np.ndarray
    subcategory: np.ndarray
    label: np.ndarray
    raw: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class _Scene:
    """Noiseless components of ``n`` triplets, built up by the subcategory recipes (all [n, 63, 63])."""

    sci: np.ndarray  # SCI signal above sky (PSF_s), before saturation
    ref: np.ndarray  # REF signal above sky (PSF_r)
    ref_in_sci_psf: np.ndarray  # the same REF sources rendered in PSF_s at the misaligned position
    mask: np.ndarray  # bool relevance mask
    blank: np.ndarray  # bool: pixels the pipeline blanks (NaN in all channels)
    flip: np.ndarray  # bool [n]: negative detections, whose DIFF cutout ZTF stores inverted (REF - SCI)


def moffat(dy: np.ndarray, dx: np.ndarray, fwhm: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Moffat profile of unit total flux at offsets ``(dy, dx)`` [px]; arguments broadcast together.

    ``alpha = FWHM / (2 sqrt(2^(1/beta) - 1))``; ``I = (beta-1)/(pi alpha^2) (1 + r^2/alpha^2)^-beta``.
    """
    alpha = fwhm / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))
    r2 = (dy * dy + dx * dx) / (alpha * alpha)
    return (beta - 1.0) / (np.pi * alpha * alpha) * (1.0 + r2) ** (-beta)


def moffat_peak(fwhm: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Peak value of the unit-flux Moffat, to convert a peak signal-to-noise into a total flux."""
    return moffat(np.zeros_like(fwhm), np.zeros_like(fwhm), fwhm, beta)


def render_points(y: np.ndarray, x: np.ndarray, flux: np.ndarray, fwhm: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Sum of Moffat point sources: positions/fluxes [n, K] (offsets from the centre, px), PSF [n] -> [n, 63, 63]."""
    image = np.zeros((len(y), SIZE, SIZE))
    fwhm, beta = fwhm[:, None, None], beta[:, None, None]
    for k in np.flatnonzero(np.any(flux != 0.0, axis=0)):  # one source slot per step: memory [n, 63, 63]
        profile = moffat(GRID_Y[None] - y[:, k, None, None], GRID_X[None] - x[:, k, None, None], fwhm, beta)
        image += flux[:, k, None, None] * profile
    return image


class _Conditions:
    """Per-triplet observing conditions (arrays [n]) drawn from the table in the module docstring."""

    def __init__(self, n: int, rng: np.random.Generator):
        self.n = n
        self.fwhm_sci = rng.uniform(1.6, 3.4, n)
        self.fwhm_ref = self.fwhm_sci * rng.uniform(0.75, 0.95, n)
        self.beta = rng.uniform(2.5, 4.5, n)
        self.sky_sci = np.exp(rng.uniform(np.log(20.0), np.log(400.0), n))
        self.sky_ref = self.sky_sci * rng.uniform(0.85, 1.15, n)
        self.gain = rng.uniform(1.5, 4.0, n)
        self.read = rng.uniform(2.0, 4.0, n)
        self.n_coadd = rng.uniform(15.0, 40.0, n)
        self.saturation = rng.uniform(25000.0, 50000.0, n)
        self.sigma_sci = np.sqrt(self.sky_sci / self.gain + self.read**2)
        self.peak_sci = moffat_peak(self.fwhm_sci, self.beta)

    def flux_for_snr(self, snr: np.ndarray) -> np.ndarray:
        """Total flux whose SCI/DIFF peak is ``snr`` sky-noise sigmas (ADU); ``snr`` is [n] or [n, K]."""
        per_unit = self.sigma_sci / self.peak_sci
        return snr * per_unit.reshape((-1,) + (1,) * (np.ndim(snr) - 1))


def _log_uniform(rng: np.random.Generator, low: float, high: float, size) -> np.ndarray:
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def _field(cond: _Conditions, rng: np.random.Generator, shift_sigma: float, scale_sigma: float) -> _Scene:
    """Field stars present in both SCI and REF; subtraction residuals from misalignment and scale error."""
    n = cond.n
    count = np.minimum(rng.poisson(rng.uniform(2.0, 10.0, n)), MAX_FIELD_STARS)
    present = np.arange(MAX_FIELD_STARS)[None, :] < count[:, None]
    y = rng.uniform(2.0, SIZE - 3.0, (n, MAX_FIELD_STARS)) - CENTRE
    x = rng.uniform(2.0, SIZE - 3.0, (n, MAX_FIELD_STARS)) - CENTRE
    # keep the central 4 px clear so that the centre holds only what the subcategory puts there
    near = np.hypot(y, x) < 4.0
    y = np.where(near, y + np.sign(y + 1e-9) * 8.0, y)
    # Euclidean-like number counts: N(> peak) ~ peak^-0.7 above 3 sigma (median ~8 sigma, 1 % > 2000 sigma)
    peak_snr = np.minimum(3.0 * rng.uniform(0.0, 1.0, (n, MAX_FIELD_STARS)) ** (-1.0 / 0.7), 1e5)
    flux = cond.flux_for_snr(peak_snr) * present
    shift_y, shift_x = rng.normal(0.0, shift_sigma, (2, n, 1))
    scale = 1.0 + rng.normal(0.0, scale_sigma, (n, 1))
    sci = render_points(y, x, flux, cond.fwhm_sci, cond.beta)
    ref = render_points(y, x, flux, cond.fwhm_ref, cond.beta)
    ref_matched = render_points(y + shift_y, x + shift_x, flux * scale, cond.fwhm_sci, cond.beta)
    empty = np.zeros((n, SIZE, SIZE), dtype=bool)
    return _Scene(sci=sci, ref=ref, ref_in_sci_psf=ref_matched, mask=empty, blank=empty.copy(),
                  flip=np.zeros(n, dtype=bool))


def _core_mask(y: np.ndarray, x: np.ndarray, fwhm: np.ndarray) -> np.ndarray:
    """Pixels within one FWHM of (y, x) [n] -> bool [n, 63, 63]: the PSF core that makes a detection real."""
    r = np.hypot(GRID_Y[None] - y[:, None, None], GRID_X[None] - x[:, None, None])
    return r <= np.maximum(fwhm, 1.5)[:, None, None]


def _add_transient(scene: _Scene, cond: _Conditions, rng: np.random.Generator, snr: np.ndarray,
                   variable_fraction: float = 0.0) -> None:
    """A point source near the centre whose flux changed by ``snr`` DIFF sigmas between REF and SCI.

    A new source is absent from REF. A ``variable_fraction`` of the sources are variable stars, already in
    REF with a quiescent flux; 40 % of those fade (by at most 90 % of that flux), and a fading source is a
    negative detection, whose DIFF cutout ZTF stores inverted, so it too shows a positive central PSF.
    """
    n = cond.n
    y, x = rng.normal(0.0, 0.4, (2, n))
    change = cond.flux_for_snr(snr)
    variable = rng.uniform(0.0, 1.0, n) < variable_fraction
    quiescent = np.where(variable, cond.flux_for_snr(_log_uniform(rng, 10.0, 3000.0, n)), 0.0)
    fading = variable & (rng.uniform(0.0, 1.0, n) < 0.4)
    change = np.where(fading, -np.minimum(change, 0.9 * quiescent), change)
    position = (y[:, None], x[:, None])
    scene.sci += render_points(*position, (quiescent + change)[:, None], cond.fwhm_sci, cond.beta)
    scene.ref += render_points(*position, quiescent[:, None], cond.fwhm_ref, cond.beta)
    scene.ref_in_sci_psf += render_points(*position, quiescent[:, None], cond.fwhm_sci, cond.beta)
    scene.flip |= fading
    scene.mask |= _core_mask(y, x, cond.fwhm_sci)


def _add_host(scene: _Scene, cond: _Conditions, rng: np.random.Generator) -> None:
    """An exponential-disc host galaxy 3-9 px from the centre, in SCI and REF; 1-3 % scale residual in DIFF."""
    n = cond.n
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    dist = rng.uniform(3.0, 9.0, n)
    cy, cx = dist * np.sin(angle), dist * np.cos(angle)
    scale_len = rng.uniform(2.0, 6.0, n)[:, None, None]
    axis_ratio = rng.uniform(0.4, 1.0, n)[:, None, None]
    tilt = rng.uniform(0.0, np.pi, n)[:, None, None]
    dy, dx = GRID_Y[None] - cy[:, None, None], GRID_X[None] - cx[:, None, None]
    u = dx * np.cos(tilt) + dy * np.sin(tilt)
    v = (-dx * np.sin(tilt) + dy * np.cos(tilt)) / axis_ratio
    surface = np.exp(-np.hypot(u, v) / scale_len)
    brightness = (_log_uniform(rng, 3.0, 40.0, n) * cond.sigma_sci)[:, None, None]
    host = brightness * surface
    residual = 1.0 + rng.choice([-1.0, 1.0], n)[:, None, None] * rng.uniform(0.01, 0.03, n)[:, None, None]
    scene.sci += host
    scene.ref += host
    scene.ref_in_sci_psf += host * residual


def _real_central(cond: _Conditions, rng: np.random.Generator) -> _Scene:
    scene = _field(cond, rng, shift_sigma=0.08, scale_sigma=0.01)
    _add_transient(scene, cond, rng, _log_uniform(rng, 15.0, 150.0, cond.n), variable_fraction=0.5)
    return scene


def _real_modulo_noise(cond: _Conditions, rng: np.random.Generator) -> _Scene:
    scene = _field(cond, rng, shift_sigma=0.0, scale_sigma=0.0)
    _add_transient(scene, cond, rng, rng.uniform(5.0, 10.0, cond.n))
    return scene


def _real_mixture(cond: _Conditions, rng: np.random.Generator) -> _Scene:
    scene = _field(cond, rng, shift_sigma=0.25, scale_sigma=0.03)
    _add_host(scene, cond, rng)
    _add_transient(scene, cond, rng, _log_uniform(rng, 8.0, 60.0, cond.n))
    return scene


def _blank_regions(cond: _Conditions, rng: np.random.Generator) -> np.ndarray:
    """Pipeline-blanked pixels [n, 63, 63]: an edge strip, a box around a masked star, or a half-plane.

    The central 9 x 9 px are never blanked (alerts are only issued for unmasked centres).
    """
    n = cond.n
    kind = rng.integers(0, 3, n)[:, None, None]
    yy, xx = GRID_Y[None], GRID_X[None]
    # edge strip: width 6-30 px along one of the four edges
    width = rng.uniform(6.0, 28.0, n)[:, None, None]
    edge = rng.integers(0, 4, n)[:, None, None]
    coord = np.where(edge % 2 == 0, yy, xx) * np.where(edge < 2, 1.0, -1.0)
    strip = coord > CENTRE - width
    # box 7-13 px around a (saturated) star 8-25 px from the centre
    half = rng.integers(3, 7, n)[:, None, None]
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    dist = rng.uniform(10.0, 25.0, n)
    by = np.round(dist * np.sin(angle))[:, None, None]
    bx = np.round(dist * np.cos(angle))[:, None, None]
    box = (np.abs(yy - by) <= half) & (np.abs(xx - bx) <= half)
    # half-plane: a chip edge at any angle, 8-25 px from the centre
    theta = rng.uniform(0.0, 2.0 * np.pi, n)[:, None, None]
    offset = rng.uniform(8.0, 25.0, n)[:, None, None]
    plane = yy * np.sin(theta) + xx * np.cos(theta) > offset
    blank = np.where(kind == 0, strip, np.where(kind == 1, box, plane))
    blank &= ~((np.abs(yy) <= 4) & (np.abs(xx) <= 4))
    return blank


def _edge(region: np.ndarray) -> np.ndarray:
    """One-pixel ring of pixels just outside ``region`` [n, H, W] (4-neighbour dilation minus region)."""
    grown = region.copy()
    grown[:, 1:] |= region[:, :-1]
    grown[:, :-1] |= region[:, 1:]
    grown[:, :, 1:] |= region[:, :, :-1]
    grown[:, :, :-1] |= region[:, :, 1:]
    return grown & ~region


def _bogus_blanked(cond: _Conditions, rng: np.random.Generator) -> _Scene:
    """Blanked regions with subtraction residuals along their edges and no real source at the centre."""
    scene = _field(cond, rng, shift_sigma=0.35, scale_sigma=0.04)
    blank = _blank_regions(cond, rng)
    edge = _edge(blank)
    # the background fit breaks at the mask border: a step of 3-15 sigma in SCI that REF lacks
    step = (rng.uniform(3.0, 15.0, cond.n) * rng.choice([-1.0, 1.0], cond.n) * cond.sigma_sci)[:, None, None]
    scene.sci += step * (edge | _edge(blank | edge))
    scene.blank = blank
    residual = np.abs(scene.sci - scene.ref_in_sci_psf) > 3.0 * cond.sigma_sci[:, None, None]
    scene.mask = edge | (residual & ~blank)
    return scene


Artefact = tuple[np.ndarray, np.ndarray, np.ndarray]  # SCI, REF, REF-in-SCI-PSF contributions [n, 63, 63]


def _dipole(cond: _Conditions, rng: np.random.Generator, cy: np.ndarray, cx: np.ndarray) -> Artefact:
    """A bright central star (30-1000 sigma) whose REF is misaligned by 0.6-1.6 px before subtraction."""
    flux = cond.flux_for_snr(_log_uniform(rng, 30.0, 1000.0, cond.n))[:, None]
    angle = rng.uniform(0.0, 2.0 * np.pi, cond.n)
    shift = rng.uniform(0.6, 1.6, cond.n)
    y, x = cy[:, None], cx[:, None]
    sy, sx = (cy + shift * np.sin(angle))[:, None], (cx + shift * np.cos(angle))[:, None]
    return (render_points(y, x, flux, cond.fwhm_sci, cond.beta),
            render_points(y, x, flux, cond.fwhm_ref, cond.beta),
            render_points(sy, sx, flux, cond.fwhm_sci, cond.beta))


def _cosmic_ray(cond: _Conditions, rng: np.random.Generator, cy: np.ndarray, cx: np.ndarray) -> Artefact:
    """A 1-3 px straight track of 20-300 sigma in SCI only: far sharper than any PSF."""
    length = rng.integers(1, 4, cond.n)[:, None, None]
    vertical = rng.integers(0, 2, cond.n)[:, None, None] == 0
    dy, dx = GRID_Y[None] - np.round(cy)[:, None, None], GRID_X[None] - np.round(cx)[:, None, None]
    along, across = np.where(vertical, dy, dx), np.where(vertical, dx, dy)
    track = (across == 0) & (along >= 0) & (along < length)
    amplitude = (_log_uniform(rng, 20.0, 300.0, cond.n) * cond.sigma_sci)[:, None, None]
    sci = track * amplitude
    return sci, np.zeros_like(sci), np.zeros_like(sci)


def _bad_column(cond: _Conditions, rng: np.random.Generator, cy: np.ndarray, cx: np.ndarray) -> Artefact:
    """One hot or cold detector column through the centre, +-10-60 sigma, in SCI (hence DIFF)."""
    column = np.abs(GRID_X[None] - np.round(cx)[:, None, None]) < 0.5
    sign = rng.choice([-1.0, 1.0], cond.n)
    sci = column * (sign * rng.uniform(10.0, 60.0, cond.n) * cond.sigma_sci)[:, None, None]
    return sci, np.zeros_like(sci), np.zeros_like(sci)


def _ghost(cond: _Conditions, rng: np.random.Generator, cy: np.ndarray, cx: np.ndarray) -> Artefact:
    """A diffuse ring (radius 4-10 px, width 1.5 px, 3-10 sigma) from an internal reflection, SCI only."""
    radius = rng.uniform(4.0, 10.0, cond.n)[:, None, None]
    r = np.hypot(GRID_Y[None] - cy[:, None, None], GRID_X[None] - cx[:, None, None])
    amplitude = (rng.uniform(3.0, 10.0, cond.n) * cond.sigma_sci)[:, None, None]
    sci = amplitude * np.exp(-0.5 * ((r - radius) / 1.5) ** 2)
    return sci, np.zeros_like(sci), np.zeros_like(sci)


def _cold_pixels(cond: _Conditions, rng: np.random.Generator, cy: np.ndarray, cx: np.ndarray) -> Artefact:
    """A dead 1-2 px spot, 15-40 sigma below the sky in SCI: a negative detection (DIFF stored inverted)."""
    tall = rng.integers(0, 2, cond.n)[:, None, None]
    spot = (np.abs(GRID_Y[None] - np.round(cy)[:, None, None]) <= tall) & \
        (GRID_X[None] == np.round(cx)[:, None, None])
    sci = spot * -(rng.uniform(15.0, 40.0, cond.n) * cond.sigma_sci)[:, None, None]
    return sci, np.zeros_like(sci), np.zeros_like(sci)


#: Artefacts of ``bogus_non_blanked``, drawn with equal probability.
ARTEFACTS = (_dipole, _cosmic_ray, _bad_column, _ghost, _cold_pixels)


def _bogus_non_blanked(cond: _Conditions, rng: np.random.Generator) -> _Scene:
    """One artefact per triplet within ~1 px of the centre (see :data:`ARTEFACTS`); nothing is blanked.

    Each artefact is rendered for the whole batch and then selected per triplet, which keeps the code
    vectorised at the cost of rendering five candidates.
    """
    scene = _field(cond, rng, shift_sigma=0.08, scale_sigma=0.01)
    kind = rng.integers(0, len(ARTEFACTS), cond.n)
    cy, cx = rng.normal(0.0, 0.5, (2, cond.n))
    rendered = [artefact(cond, rng, cy, cx) for artefact in ARTEFACTS]
    chosen = [np.choose(kind[:, None, None], [r[part] for r in rendered]) for part in range(3)]
    sci, ref, ref_matched = chosen
    scene.sci += sci
    scene.ref += ref
    scene.ref_in_sci_psf += ref_matched
    scene.flip |= kind == ARTEFACTS.index(_cold_pixels)
    residual = np.abs(sci - ref_matched)
    scene.mask = residual > 0.2 * residual.max(axis=(1, 2), keepdims=True)
    return scene


_RECIPES = {
    "real_central": _real_central,
    "real_modulo_noise": _real_modulo_noise,
    "real_mixture": _real_mixture,
    "bogus_blanked": _bogus_blanked,
    "bogus_non_blanked": _bogus_non_blanked,
}


def _observe(scene: _Scene, cond: _Conditions, rng: np.random.Generator) -> np.ndarray:
    """Add sky, Poisson + read noise and saturation; subtract -> raw [n, 63, 63, 3] ADU with NaN blanks."""
    sky_s = cond.sky_sci[:, None, None]
    sky_r = cond.sky_ref[:, None, None]
    gain = cond.gain[:, None, None]
    read = cond.read[:, None, None]
    sat = cond.saturation[:, None, None]
    sci_var = np.maximum(scene.sci + sky_s, 0.0) / gain + read**2
    sci = np.minimum(sky_s + scene.sci + rng.standard_normal(scene.sci.shape) * np.sqrt(sci_var), sat)
    ref_var = (np.maximum(scene.ref + sky_r, 0.0) / gain + read**2) / cond.n_coadd[:, None, None]
    ref_noise = rng.standard_normal(scene.ref.shape) * np.sqrt(ref_var)
    ref = np.minimum(sky_r + scene.ref + ref_noise, sat)
    diff = (sci - sky_s) - scene.ref_in_sci_psf - ref_noise
    diff = np.where(scene.flip[:, None, None], -diff, diff)
    raw = np.stack([sci, ref, diff], axis=-1).astype(np.float32)
    raw[scene.blank] = np.nan
    return raw


def normalise_triplets(raw: np.ndarray, normalisation: Normalisation) -> np.ndarray:
    """braai normalisation: NaN -> 0, then divide each channel by its L2 norm.

    ``"image"`` (braai_d6_m9): ``x_c / ||x_c||_2`` over the whole 63x63 cutout of channel ``c``;
    ``"row"`` (d6_m7, ``keras.utils.normalize``): each row of each channel by its own L2 norm.
    All-zero cutouts or rows stay zero. ``raw`` [N, H, W, 3] -> float32 of the same shape.
    """
    if normalisation not in ("image", "row"):
        raise InputError(f"normalisation={normalisation!r}; expected 'image' or 'row'")
    x = np.nan_to_num(np.asarray(raw, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    axes = (1, 2) if normalisation == "image" else (2,)
    norm = np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
    return (x / np.where(norm > 0, norm, 1.0)).astype(np.float32)


def _counts(n_per_subcategory: int | dict[str, int]) -> dict[str, int]:
    if isinstance(n_per_subcategory, dict):
        unknown = set(n_per_subcategory) - set(ZTF_SUBCATEGORIES)
        if unknown:
            raise InputError(f"n_per_subcategory: unknown subcategories {sorted(unknown)}; "
                             f"expected keys among {', '.join(ZTF_SUBCATEGORIES)}")
        counts = {name: n_per_subcategory.get(name, 0) for name in ZTF_SUBCATEGORIES}
    else:
        counts = {name: n_per_subcategory for name in ZTF_SUBCATEGORIES}
    for name, count in counts.items():
        if not isinstance(count, (int, np.integer)) or isinstance(count, bool) or count < 0:
            raise InputError(f"n_per_subcategory[{name!r}] = {count!r}; expected a non-negative integer")
    return counts


def simulate_triplets(n_per_subcategory: int | dict[str, int], seed: int,
                      normalisation: Normalisation = "image", keep_raw: bool = True) -> TripletSet:
    """Simulate labelled ZTF triplets with ground-truth relevance masks.

    Parameters
    ----------
    n_per_subcategory : int or dict
        Triplets per subcategory (an int for all five, or ``{name: count}``; missing names get 0).
    seed : int
        Seed of the numpy generator; every subcategory draws from its own child stream, so changing one
        count leaves the other subcategories' triplets unchanged.
    normalisation : {"image", "row"}
        braai convention of the model the triplets are meant for (see :func:`normalise_triplets`).
    keep_raw : bool
        Also return the unnormalised ADU cutouts (NaN where blanked).

    Returns
    -------
    TripletSet
        Subcategories in ``ZTF_SUBCATEGORIES`` order, ``n_per_subcategory`` consecutive rows each.
    """
    counts = _counts(n_per_subcategory)
    if normalisation not in ("image", "row"):
        raise InputError(f"normalisation={normalisation!r}; expected 'image' or 'row'")
    streams = np.random.SeedSequence(seed).spawn(len(ZTF_SUBCATEGORIES))
    raws, masks, names = [], [], []
    for name, stream in zip(ZTF_SUBCATEGORIES, streams):
        if counts[name] == 0:
            continue
        rng = np.random.default_rng(stream)
        cond = _Conditions(counts[name], rng)
        scene = _RECIPES[name](cond, rng)
        raws.append(_observe(scene, cond, rng))
        masks.append(scene.mask)
        names.extend([name] * counts[name])
    raw = np.concatenate(raws) if raws else np.zeros((0, SIZE, SIZE, 3), np.float32)
    mask = np.concatenate(masks) if masks else np.zeros((0, SIZE, SIZE), bool)
    subcategory = np.array(names, dtype=str)
    label = np.array([SUBCATEGORY_IS_REAL[s] for s in subcategory], dtype=np.int64)
    return TripletSet(images=normalise_triplets(raw, normalisation), masks=mask, subcategory=subcategory,
                      label=label, raw=raw if keep_raw else None)
