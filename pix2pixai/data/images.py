"""Labelled image sets on disk: an ``.npz`` or HDF5 (``.h5`` / ``.hdf5``) file with named arrays.

Why a file format of its own: any survey's image patches (light-echo cutouts, galaxy stamps, ...)
should enter the chain without code, so the layout is the smallest one every tool can write::

    images       float [N, H, W, C]     required
    labels       int or str [N]         required; ints index ``class_names`` when it is given
    class_names  str [K]                optional; fixes the class order (else sorted unique labels)
    masks        bool [N, H, W]         optional ground-truth relevance (scored by ``compare``)

Every problem is an :class:`~pix2pixai.errors.InputError` naming the file, the array and the shape.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from pix2pixai import atomic
from pix2pixai.errors import InputError

HDF5_SUFFIXES = (".h5", ".hdf5")


@dataclass(frozen=True)
class ImageSet:
    """A labelled image set: ``y`` int [N] indexes ``class_names``; ``masks`` bool [N, H, W] or None."""

    images: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    masks: np.ndarray | None = None

    def select(self, classes: Sequence[str], origin: str) -> "ImageSet":
        """Only the images of ``classes``, re-indexed in that order (a config's ``survey.groups``)."""
        missing = [c for c in classes if c not in self.class_names]
        if missing:
            raise InputError(f"{origin}: classes {missing} not in the image set (classes: {', '.join(self.class_names)})")
        old = np.array([self.class_names.index(c) for c in classes])
        keep = np.flatnonzero(np.isin(self.y, old))
        remap = np.full(len(self.class_names), -1, np.int64)
        remap[old] = np.arange(len(classes))
        return ImageSet(images=self.images[keep], y=remap[self.y[keep]], class_names=tuple(classes),
                        masks=None if self.masks is None else self.masks[keep])


def read_image_set(path: str | Path) -> ImageSet:
    """Read and validate an image set (format in the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: image set not found")
    arrays = _read_hdf5(path) if path.suffix.lower() in HDF5_SUFFIXES else _read_npz(path)
    return _validate(path, arrays)


def write_image_set(path: str | Path, images: np.ndarray, labels: np.ndarray, *,
                    class_names: Sequence[str] | None = None, masks: np.ndarray | None = None) -> Path:
    """Write an image set atomically as ``.npz`` or, by suffix, HDF5; it reads back with :func:`read_image_set`."""
    path = Path(path)
    arrays = {"images": np.asarray(images, np.float32), "labels": np.asarray(labels)}
    if class_names is not None:
        arrays["class_names"] = np.asarray(list(class_names), dtype=str)
    if masks is not None:
        arrays["masks"] = np.asarray(masks, bool)
    _validate(path, arrays)
    if path.suffix.lower() not in HDF5_SUFFIXES:
        return atomic.save_npz(path, **arrays)
    import h5py

    with atomic.atomic_path(path) as tmp, h5py.File(tmp, "w") as fh:
        for key, value in arrays.items():
            fh.create_dataset(key, data=value.astype(bytes) if value.dtype.kind == "U" else value)
    return path


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:  # ValueError: not numpy, or a pickle
        raise InputError(f"{path}: not a readable .npz or HDF5 image set (numpy: {exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise InputError(f"{path}: a single .npy array, expected an .npz (or HDF5) with images and labels")
    with data:
        try:
            return {key: data[key] for key in data.files}
        except ValueError as exc:  # object arrays need pickle, which is refused for safety
            raise InputError(f"{path}: unreadable array ({exc}); store labels as int or str, not objects") from None


def _read_hdf5(path: Path) -> dict[str, np.ndarray]:
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            out = {}
            for key in fh:
                if isinstance(fh[key], h5py.Dataset):
                    value = fh[key][()]
                    out[key] = value.astype(str) if value.dtype.kind in "SO" else value
            return out
    except OSError as exc:
        raise InputError(f"{path}: not a readable HDF5 image set ({exc})") from None


def _validate(path: Path, arrays: dict[str, np.ndarray]) -> ImageSet:
    for key in ("images", "labels"):
        if key not in arrays:
            raise InputError(f"{path}: missing array {key!r} (has {sorted(arrays) or 'none'}); expected images "
                             "[N,H,W,C] and labels [N]")
    images, labels = np.asarray(arrays["images"]), np.asarray(arrays["labels"])
    if images.ndim != 4:
        hint = " (add a channel axis: images[..., None])" if images.ndim == 3 else ""
        raise InputError(f"{path}: images has shape {images.shape}: expected 4 axes [N,H,W,C]{hint}")
    if images.dtype.kind not in "fiub":
        raise InputError(f"{path}: images has dtype {images.dtype}: expected numbers")
    if len(images) == 0:
        raise InputError(f"{path}: images is empty: expected at least one image")
    if labels.ndim != 1 or len(labels) != len(images):
        raise InputError(f"{path}: labels has shape {labels.shape} for {len(images)} images: expected one label "
                         f"per image, shape ({len(images)},)")
    images = images.astype(np.float32)
    bad = int(np.sum(~np.isfinite(images)))
    if bad:
        raise InputError(f"{path}: images has {bad} non-finite values: expected finite numbers")
    y, names = _class_indices(path, labels, arrays.get("class_names"))
    masks = arrays.get("masks")
    if masks is not None:
        masks = np.asarray(masks)
        if masks.shape != images.shape[:3]:
            raise InputError(f"{path}: masks has shape {masks.shape}: expected {images.shape[:3]} (= images[..., 0])")
        masks = masks.astype(bool)
    return ImageSet(images=images, y=y, class_names=names, masks=masks)


def _class_indices(path: Path, labels: np.ndarray, class_names: np.ndarray | None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels -> (int index [N], class names): ints index ``class_names``; strings are looked up in it."""
    names = None if class_names is None else tuple(str(c) for c in np.asarray(class_names).ravel())
    if names is not None and len(set(names)) != len(names):
        raise InputError(f"{path}: class_names {list(names)} has duplicates")
    if labels.dtype.kind in "iu":
        if names is None:
            names = tuple(str(v) for v in np.unique(labels))
            return np.searchsorted(np.unique(labels), labels).astype(np.int64), names
        if labels.min() < 0 or labels.max() >= len(names):
            raise InputError(f"{path}: labels range {labels.min()}..{labels.max()}: expected 0..{len(names) - 1} "
                             f"(indices into class_names, {len(names)} names)")
        return labels.astype(np.int64), names
    if labels.dtype.kind not in "US":
        raise InputError(f"{path}: labels has dtype {labels.dtype}: expected integers or strings")
    text = labels.astype(str).tolist()
    names = names or tuple(sorted(set(text)))
    unknown = sorted(set(text) - set(names))
    if unknown:
        raise InputError(f"{path}: labels {unknown[:5]} not in class_names {list(names)}")
    lookup = {name: k for k, name in enumerate(names)}
    return np.array([lookup[v] for v in text], np.int64), names
