"""ZTF alert packets -> braai-ready (63, 63, 3) science/reference/difference triplets.

Why this module exists: the braai real/bogus models (and every explanation computed on them) only
give their published scores when the input triplet is built *exactly* as braai builds it. The recipe
(Duev et al. 2019, braai ``make_triplet``), per cutout:

1. decode ``cutout{Science,Template,Difference}.stampData``: gzip-compressed FITS bytes (raw bytes
   in Avro packets, MongoDB extended JSON ``{"$binary": base64}`` in Kowalski JSON dumps);
2. NaN (pixels blanked by the pipeline) -> 0;
3. normalise (dimensionless result):

   - ``"image"`` (``braai_d6_m9``, braXAI): ``x / ||x||_2`` over the whole ``h x w`` cutout;
   - ``"row"`` (``d6_m7``, IPAC's ``drb``): ``x[i, :] / ||x[i, :]||_2`` per row, i.e.
     ``keras.utils.normalize(x)`` (L2 along the last axis);

   an all-zero image or row is left at zero (the norm is replaced by 1, as Keras does) instead of
   becoming NaN. The arithmetic is float32, as in braai and IPAC: some ZTF reference cutouts mark
   pixels without coverage with ``-3.4028235e38`` (``-FLT_MAX``, not NaN); squaring it overflows, the
   norm becomes ``inf`` and the whole row (or image) becomes 0. IPAC's ``drb`` was computed that way
   (fink alerts 2481428581115010002 and 2481169255715015001 only reproduce in float32);
4. pad bottom/right to 63 x 63 with ``1e-9`` *after* normalising (cutouts at CCD edges are smaller,
   e.g. (41, 63) or (63, 53));
5. stack as channels ``[science, reference, difference]`` -> float32 ``(63, 63, 3)``.

Raw cutouts can also come pre-decoded in the fink ``cutouts_raw.npz`` layout ``[N, 3, H, W]`` with the
true sizes in ``shapes [N, 3, 2]`` (data in ``[:h, :w]``); :func:`triplets_from_raw_cutouts` is the one
vectorised implementation of steps 2-5 and every other entry point goes through it.

Every problem with the input (missing file, not Avro/JSON, missing field, corrupt gzip or FITS, a
cutout that is not 2-D or exceeds 63 x 63) is an :class:`~pix2pixai.errors.InputError` naming the file,
the field and what was expected.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import warnings
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pix2pixai.errors import InputError, where

Normalisation = Literal["image", "row"]

NORMALISATIONS: tuple[str, ...] = ("image", "row")
TRIPLET_SIZE = 63
PAD_VALUE = 1e-9
CUTOUT_FIELDS: tuple[str, str, str] = ("cutoutScience", "cutoutTemplate", "cutoutDifference")

_AVRO_MAGIC = b"Obj\x01"
_GZIP_MAGIC = b"\x1f\x8b"

Source = str | Path | None


def read_alert_packets(path: str | Path) -> list[dict[str, Any]]:
    """Read every alert packet from an Avro object container file or a JSON alert.

    The format is recognised from the content, not the file name: Avro files start with the magic
    ``b"Obj\\x01"`` and may hold several records (any codec fastavro knows: null, deflate, snappy
    via cramjam); a JSON file holds one packet as an object (Kowalski / braai dumps).

    Parameters
    ----------
    path : str or Path
        Alert file.

    Returns
    -------
    list of dict
        The packets, in file order.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: alert file not found; expected an Avro or JSON ZTF alert packet")
    content = path.read_bytes()
    if not content:
        raise InputError(f"{path}: empty file; expected an Avro or JSON ZTF alert packet")
    if content.startswith(_AVRO_MAGIC):
        return _read_avro(content, path)
    return [_read_json(content, path)]


def cutouts_from_packet(
    packet: Mapping[str, Any], source: Source = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode the three raw cutouts of one alert packet.

    Parameters
    ----------
    packet : Mapping
        A parsed alert (from :func:`read_alert_packets`, fastavro or ``json.load``).
    source : str or Path, optional
        Where the packet came from, used only in error messages.

    Returns
    -------
    (science, reference, difference) : tuple of ndarray
        float32 2-D arrays in counts (ADU), the FITS primary HDU's values in native byte order, NaN
        and ``-FLT_MAX`` no-coverage sentinels kept.
    """
    if not isinstance(packet, Mapping):
        raise InputError(
            f"{where(source)}alert packet is a {type(packet).__name__}; expected a dict with "
            f"fields {', '.join(CUTOUT_FIELDS)}"
        )
    science, reference, difference = (
        _fits_image(_stamp_bytes(packet, field, source), source, field) for field in CUTOUT_FIELDS
    )
    return science, reference, difference


def normalise_cutout(cutout: np.ndarray, normalisation: Normalisation) -> np.ndarray:
    """Normalise one cutout the way a braai model expects (NaN -> 0 first, no padding).

    Parameters
    ----------
    cutout : ndarray, shape (h, w)
        Raw pixels, NaN allowed.
    normalisation : {"image", "row"}
        ``"image"``: ``x / ||x||_2`` over the whole cutout; ``"row"``: ``x[i] / ||x[i]||_2`` per row.

    Returns
    -------
    ndarray, float32, shape (h, w)
    """
    _check_normalisation(normalisation)
    cutout = np.asarray(cutout, dtype=np.float32)
    if cutout.ndim != 2:
        raise InputError(f"cutout has shape {cutout.shape}; expected a 2-D (h, w) image")
    _check_no_infinities(cutout, "cutout")
    return _normalised(np.nan_to_num(cutout, nan=0.0), normalisation).astype(np.float32)


def triplets_from_raw_cutouts(
    cutouts: np.ndarray,
    shapes: np.ndarray,
    normalisation: Normalisation,
    source: Source = None,
) -> np.ndarray:
    """Build normalised, padded triplets from raw cutouts in the fink ``cutouts_raw.npz`` layout.

    Vectorised over all ``N x 3`` cutouts: pixels outside ``[:h, :w]`` and NaN pixels are zeroed, so
    they add nothing to the L2 norms; after normalising, the outside is set to ``1e-9``.

    Parameters
    ----------
    cutouts : ndarray, shape (N, 3, H, W), H, W <= 63
        Raw pixels, channels science/reference/difference; only ``[:h, :w]`` is data.
    shapes : ndarray of int, shape (N, 3, 2)
        True ``(h, w)`` of every cutout, ``1 <= h <= H``, ``1 <= w <= W``.
    normalisation : {"image", "row"}
        See :func:`normalise_cutout`.
    source : str or Path, optional
        Where the arrays came from, used only in error messages.

    Returns
    -------
    ndarray, float32, shape (N, 63, 63, 3)
    """
    _check_normalisation(normalisation)
    cutouts = np.asarray(cutouts, dtype=np.float32)
    shapes = np.asarray(shapes)
    n, height, width = _check_raw_layout(cutouts, shapes, source)
    inside = (np.arange(height)[:, None] < shapes[:, :, 0, None, None]) & (
        np.arange(width) < shapes[:, :, 1, None, None]
    )
    _check_no_infinities(np.where(inside, cutouts, 0.0), f"{where(source, field='cutouts')}cutouts")
    pixels = np.where(inside & ~np.isnan(cutouts), cutouts, np.float32(0.0))
    normalised = np.where(inside, _normalised(pixels, normalisation), np.float32(PAD_VALUE))
    triplets = np.full((n, 3, TRIPLET_SIZE, TRIPLET_SIZE), PAD_VALUE, dtype=np.float32)
    triplets[:, :, :height, :width] = normalised
    return np.ascontiguousarray(triplets.transpose(0, 2, 3, 1))


def triplet_from_alert(
    path_or_packet: str | Path | Mapping[str, Any], normalisation: Normalisation = "image"
) -> np.ndarray:
    """Turn one ZTF alert into the braai input triplet.

    Parameters
    ----------
    path_or_packet : str, Path or Mapping
        An Avro or JSON alert file holding exactly one packet, or an already parsed packet.
    normalisation : {"image", "row"}
        ``"image"`` for ``braai_d6_m9`` / braXAI, ``"row"`` for ``d6_m7`` (IPAC ``drb``).

    Returns
    -------
    ndarray, float32, shape (63, 63, 3)
        Channels ``[science, reference, difference]``, normalised then padded with ``1e-9``.
    """
    _check_normalisation(normalisation)
    if isinstance(path_or_packet, Mapping):
        packet, source = path_or_packet, None
    else:
        source = Path(path_or_packet)
        packets = read_alert_packets(source)
        if len(packets) != 1:
            raise InputError(
                f"{source}: holds {len(packets)} alert packets; expected exactly one (read them with "
                "read_alert_packets and convert each packet)"
            )
        packet = packets[0]
    cutouts = cutouts_from_packet(packet, source)
    raw = np.zeros((1, 3, TRIPLET_SIZE, TRIPLET_SIZE), dtype=np.float32)
    for channel, (field, cutout) in enumerate(zip(CUTOUT_FIELDS, cutouts)):
        height, width = cutout.shape
        if height > TRIPLET_SIZE or width > TRIPLET_SIZE:
            raise InputError(
                f"{where(source, field=field)}cutout has shape {cutout.shape}; expected at most "
                f"({TRIPLET_SIZE}, {TRIPLET_SIZE})"
            )
        raw[0, channel, :height, :width] = cutout
    shapes = np.array([[cutout.shape for cutout in cutouts]])
    return triplets_from_raw_cutouts(raw, shapes, normalisation, source)[0]


def read_braai_training_set(
    triplets_npy: str | Path,
    candidates_csv: str | Path,
    label_column: str | None = "label",
) -> tuple[np.ndarray, np.ndarray | None, list[dict[str, str]]]:
    """Read braai's public training-set format: normalised triplets + one candidates CSV row each.

    Parameters
    ----------
    triplets_npy : str or Path
        ``.npy`` array of shape (N, 63, 63, 3), already normalised (this reader does not renormalise).
    candidates_csv : str or Path
        CSV with a header and N rows, row i describing triplet i.
    label_column : str or None
        Column holding the real (1) / bogus (0) label; ``None`` for sets without labels (e.g. BTSbot's
        ``usage_candidates.csv``, whose ``label`` column means something else).

    Returns
    -------
    triplets : ndarray, float32, shape (N, 63, 63, 3)
    labels : ndarray of int64, shape (N,), or None when ``label_column`` is None
    candidates : list of dict
        The CSV rows with values kept as strings, so identifiers such as ``candid`` are never rounded.
    """
    triplets = _read_triplet_array(Path(triplets_npy))
    candidates = _read_candidates(Path(candidates_csv))
    if len(candidates) != len(triplets):
        raise InputError(
            f"{candidates_csv}: {len(candidates)} candidate rows; expected {len(triplets)}, one per "
            f"triplet in {triplets_npy}"
        )
    labels = None if label_column is None else _labels(candidates, label_column, Path(candidates_csv))
    return triplets, labels, candidates


def _read_avro(content: bytes, path: Path) -> list[dict[str, Any]]:
    import fastavro

    try:
        packets = list(fastavro.reader(io.BytesIO(content)))
    except Exception as error:  # noqa: BLE001 - damaged bytes fail anywhere in fastavro (schema, codec, record)
        raise InputError(
            f"{path}: unreadable Avro container ({type(error).__name__}: {error}); expected a "
            "complete ZTF Avro alert file"
        ) from error
    if not packets:
        raise InputError(f"{path}: Avro file holds no records; expected at least one alert packet")
    return packets


def _read_json(content: bytes, path: Path) -> dict[str, Any]:
    try:
        packet = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(
            f"{path}: neither an Avro container (magic b'Obj\\x01') nor valid JSON ({error}); expected "
            "a ZTF alert packet"
        ) from error
    if not isinstance(packet, dict):
        raise InputError(
            f"{path}: JSON holds a {type(packet).__name__}; expected one alert packet object"
        )
    return packet


def _stamp_bytes(packet: Mapping[str, Any], field: str, source: Source) -> bytes:
    """The compressed FITS bytes of one cutout: Avro ``bytes`` or extended-JSON ``$binary`` base64."""
    prefix = where(source, field=field)
    cutout = packet.get(field)
    if not isinstance(cutout, Mapping) or cutout.get("stampData") is None:
        raise InputError(
            f"{prefix}missing or empty cutout; expected {{'stampData': gzipped FITS bytes}} "
            f"(packet fields: {', '.join(sorted(map(str, packet)))})"
        )
    stamp = cutout["stampData"]
    if isinstance(stamp, bytes):
        return stamp
    encoded = stamp.get("$binary") if isinstance(stamp, Mapping) else None
    if isinstance(encoded, Mapping):
        encoded = encoded.get("base64")
    if not isinstance(encoded, str):
        raise InputError(
            f"{prefix}stampData is a {type(stamp).__name__}; expected bytes or "
            "{'$binary': base64 string}"
        )
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError as error:  # binascii.Error, or non-ASCII characters in the string
        raise InputError(f"{prefix}stampData is not valid base64 ({error})") from error


#: Most bytes a cutout may inflate to. A 63x63 float32 ZTF stamp is ~20 KB of FITS; the cap stops a
#: small compressed "bomb" (1 MB inflating to 1 GiB) from taking the machine's memory.
MAX_CUTOUT_BYTES = 16 * 2**20


def _gunzip_capped(stamp: bytes, prefix: str) -> bytes:
    """The gzip stream ``stamp`` inflated, refusing more than :data:`MAX_CUTOUT_BYTES`."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(stamp, MAX_CUTOUT_BYTES + 1)
    except zlib.error as error:
        raise InputError(f"{prefix}corrupt or truncated gzip stream ({error}); expected gzip-compressed FITS") from error
    if len(out) > MAX_CUTOUT_BYTES:
        raise InputError(f"{prefix}gzip stream inflates beyond {MAX_CUTOUT_BYTES // 2**20} MiB; expected a cutout "
                         "of a few tens of KB (a decompression bomb?)")
    if not inflater.eof:
        raise InputError(f"{prefix}corrupt or truncated gzip stream (ends before its last block); expected "
                         "gzip-compressed FITS")
    return out


def _fits_image(stamp: bytes, source: Source, field: str) -> np.ndarray:
    """Decompress (when gzipped) and parse FITS bytes; the primary HDU must be a 2-D image."""
    from astropy.io import fits
    from astropy.io.fits.verify import VerifyWarning

    prefix = where(source, field=field)
    if stamp.startswith(_GZIP_MAGIC):
        stamp = _gunzip_capped(stamp, prefix)
    try:
        with warnings.catch_warnings():
            # ZTF writes SIMPLE without the fixed-format padding; astropy reads it correctly.
            warnings.filterwarnings("ignore", message="Found a SIMPLE card", category=VerifyWarning)
            # A file cut inside the pixels fails below (InputError); one missing only the trailing
            # FITS block padding has every pixel, so astropy's truncation warning is noise.
            warnings.filterwarnings("ignore", message="File may have been truncated", category=UserWarning)
            with fits.open(io.BytesIO(stamp), memmap=False) as hdus:
                data = hdus[0].data
                image = None if data is None else np.array(data, dtype=np.float32)
    except (OSError, TypeError, ValueError, IndexError) as error:
        raise InputError(
            f"{prefix}invalid or truncated FITS ({type(error).__name__}: {error}); expected a FITS "
            "file whose primary HDU is a 2-D image"
        ) from error
    if image is None or image.ndim != 2 or 0 in image.shape:
        shape = None if image is None else image.shape
        raise InputError(f"{prefix}FITS primary HDU holds data of shape {shape}; expected a 2-D image")
    return image


def _normalised(pixels: np.ndarray, normalisation: Normalisation) -> np.ndarray:
    """``pixels [..., h, w] / L2 norm`` over each row (``"row"``) or the whole image (``"image"``).

    float32 in, float32 out. A zero norm is replaced by 1, so an all-zero row or image stays zero
    instead of becoming NaN; a norm that overflows to ``inf`` (a ``-FLT_MAX`` sentinel pixel) turns
    its row or image into zeros, deliberately, as in braai (see the module docstring).
    """
    axes = (-1,) if normalisation == "row" else (-2, -1)
    with np.errstate(over="ignore"):
        norm = np.sqrt(np.sum(np.square(pixels), axis=axes, keepdims=True))
    return pixels / np.where(norm == 0.0, np.float32(1.0), norm)


def _check_normalisation(normalisation: str) -> None:
    if normalisation not in NORMALISATIONS:
        raise InputError(
            f"normalisation {normalisation!r}; expected one of {NORMALISATIONS} ('image' for "
            "braai_d6_m9, 'row' for d6_m7)"
        )


def _check_no_infinities(pixels: np.ndarray, what: str) -> None:
    if np.isinf(pixels).any():
        raise InputError(f"{what} hold infinite pixels; expected finite values or NaN (blanked)")


def _check_raw_layout(cutouts: np.ndarray, shapes: np.ndarray, source: Source) -> tuple[int, int, int]:
    if cutouts.ndim != 4 or cutouts.shape[1] != 3 or max(cutouts.shape[2:]) > TRIPLET_SIZE:
        raise InputError(
            f"{where(source, field='cutouts')}shape {cutouts.shape}; expected (N, 3, H, W) with "
            f"H, W <= {TRIPLET_SIZE}"
        )
    n, _, height, width = cutouts.shape
    if shapes.shape != (n, 3, 2) or not np.issubdtype(shapes.dtype, np.integer):
        raise InputError(
            f"{where(source, field='shapes')}{shapes.dtype} array of shape {shapes.shape}; expected "
            f"integers of shape ({n}, 3, 2)"
        )
    heights, widths = shapes[..., 0], shapes[..., 1]
    bad = (heights < 1) | (heights > height) | (widths < 1) | (widths > width)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(
            f"{where(source, field='shapes')}entry {index} is {tuple(shapes[index].tolist())}; expected "
            f"1 <= h <= {height} and 1 <= w <= {width}"
        )
    return n, height, width


def _read_triplet_array(path: Path) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"{path}: triplet file not found; expected a .npy array (N, 63, 63, 3)")
    try:
        triplets = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise InputError(f"{path}: not a readable .npy array ({error}); expected (N, 63, 63, 3)") from error
    expected = (TRIPLET_SIZE, TRIPLET_SIZE, 3)
    if triplets.ndim != 4 or triplets.shape[1:] != expected or not np.issubdtype(triplets.dtype, np.floating):
        raise InputError(
            f"{path}: {triplets.dtype} array of shape {triplets.shape}; expected floats of shape "
            f"(N, {TRIPLET_SIZE}, {TRIPLET_SIZE}, 3)"
        )
    if not np.isfinite(triplets).all():
        raise InputError(f"{path}: holds NaN or infinite pixels; expected normalised, finite triplets")
    return triplets.astype(np.float32)


def _read_candidates(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise InputError(f"{path}: candidates file not found; expected a CSV with one row per triplet")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise InputError(f"{path}: no candidate rows; expected a header and one row per triplet")
    return rows


def _labels(candidates: list[dict[str, str]], column: str, path: Path) -> np.ndarray:
    if column not in candidates[0]:
        raise InputError(
            f"{path}: no column {column!r}; expected a real/bogus label column (columns: "
            f"{', '.join(candidates[0])})"
        )
    labels = np.empty(len(candidates), dtype=np.int64)
    for row, candidate in enumerate(candidates):
        value = (candidate[column] or "").strip()
        try:
            label = float(value)
        except ValueError:
            label = np.nan
        if label not in (0.0, 1.0):
            raise InputError(
                f"{where(path, row=row + 2, field=column)}{value!r}; expected 0 (bogus) or 1 (real)"
            )
        labels[row] = int(label)
    return labels
