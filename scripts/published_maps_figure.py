"""Our class maps of the original CRTS CNN beside the original work's published class maps.

The published maps (``../shared/data/reproducibility_periodic_cnn/published_class_maps``) are
colour-mapped renders with dm/dt ticks; the numbers behind them were never published. To compare
them with numbers at all, this script reads each PNG's raster back:

1. the axes frame is found as the rows and columns that hold a long run of near-black pixels
   (matplotlib's spines); the image fills the inside of that frame;
2. the inside is cut into the dmdt grid (22 dm rows x 24 dt columns, equal-width cells, as the
   published tick labels sit on the cell edges) and each cell's colour is the median of its central
   half (cell borders carry interpolation from the 256-px render);
3. the colour is inverted through the colour map that fits it best (``jet`` for the Grad-CAM
   renders, which keras-vis coloured itself, ``viridis`` for blanking and SHAP, matplotlib's default):
   the nearest of 256 map colours gives a value in [0, 1]. The mean RGB distance to that colour is
   reported, so a bad fit shows;
4. the rows are turned dm-ascending (the published images draw dm = +8 at the top), like ours.

What this recovers is the published map up to an unknown increasing affine map (the renders were
auto-scaled from their own minimum to maximum; where zero lies in a signed map is lost). The numbers
are therefore scale-free: Spearman rank correlation, and SSIM (11-px Gaussian window, data range 1)
after min-max scaling both maps to [0, 1]. As a floor, the same numbers are given for our maps of
the *other* classes (same method): a class-specific agreement must beat that. Our blanking maps
are negated first (the original's blanking is p(blanked) - p, ours the drop p - p(blanked)).

Usage: ``python scripts/published_maps_figure.py RUN [--published DIR] [--figure PNG] [--json JSON]
[--markdown MD]`` where RUN is a run directory of the ``crts-original`` preset.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from pix2pixai import metrics  # noqa: E402
from pix2pixai.atomic import atomic_path, write_json, write_text  # noqa: E402
from pix2pixai.classmaps import ClassMap  # noqa: E402
from pix2pixai.errors import InputError  # noqa: E402
from pix2pixai.figures.maps import draw_map  # noqa: E402
from pix2pixai.producers.registry import is_signed  # noqa: E402
from pix2pixai.rundir.layout import SurveyDir  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = REPO.parent / "shared" / "data" / "reproducibility_periodic_cnn" / "published_class_maps"
#: published file stem -> our group name; published method -> our method name
CLASSES = {"EW": "EW", "EA": "EA", "RRab": "RRab", "RRc": "RRc", "RSCVn": "RS_CVn", "LPV": "LPV"}
METHODS = {"gradCAM": "gradcam", "blanking": "blanking", "shap": "shap"}
#: The original's blanking map is p(blanked) - p(original) (XAI/blanking_experiments.ipynb of the
#: original repository), negative where a bin matters; ours is the score *drop*, positive there.
#: For the numbers our blanking maps are negated into the original's convention.
ORIGINAL_SIGN = {"gradCAM": 1.0, "blanking": -1.0, "shap": 1.0}
GRID = (22, 24)
COLOUR_MAPS = ("jet", "viridis")


def axes_frame(rgb: np.ndarray, dark: int = 80, run: float = 0.5) -> tuple[int, int, int, int]:
    """(top, bottom, left, right): first/last pixel *inside* the axes frame of a matplotlib render.

    A frame line is a row (column) in which more than ``run`` of the pixels are near black
    (every channel < ``dark``); tick labels and titles are dark too but far shorter.
    """
    black = np.all(rgb < dark, axis=-1)
    rows = np.flatnonzero(black.mean(axis=1) > run)
    cols = np.flatnonzero(black.mean(axis=0) > run)
    if rows.size < 2 or cols.size < 2:
        raise InputError(f"no axes frame found (dark rows {rows.size}, dark columns {cols.size})")
    top, bottom = _inner_edges(rows)
    left, right = _inner_edges(cols)
    if bottom - top < GRID[0] * 4 or right - left < GRID[1] * 4:
        raise InputError(f"axes frame too small for a {GRID} raster: rows {top}-{bottom}, columns {left}-{right}")
    return top, bottom, left, right


def _inner_edges(lines: np.ndarray) -> tuple[int, int]:
    """Inside edges of the first and last group of consecutive frame lines."""
    breaks = np.flatnonzero(np.diff(lines) > 1)
    first_end = lines[breaks[0]] if breaks.size else lines[0]
    last_start = lines[breaks[-1] + 1] if breaks.size else lines[-1]
    return int(first_end) + 1, int(last_start) - 1


def cell_colours(rgb: np.ndarray, frame: tuple[int, int, int, int], grid: tuple[int, int] = GRID) -> np.ndarray:
    """Median colour of the central half of each grid cell, [rows, cols, 3] float, top row first."""
    top, bottom, left, right = frame
    row_edges = np.linspace(top, bottom + 1, grid[0] + 1)
    col_edges = np.linspace(left, right + 1, grid[1] + 1)
    out = np.empty((*grid, 3))
    for i in range(grid[0]):
        r0, r1 = _central_half(row_edges[i], row_edges[i + 1])
        for j in range(grid[1]):
            c0, c1 = _central_half(col_edges[j], col_edges[j + 1])
            out[i, j] = np.median(rgb[r0:r1, c0:c1].reshape(-1, 3), axis=0)
    return out


def _central_half(lo: float, hi: float) -> tuple[int, int]:
    quarter = (hi - lo) / 4
    a, b = int(np.ceil(lo + quarter)), int(np.floor(hi - quarter))
    return a, max(b, a + 1)


def invert_colour_map(colours: np.ndarray, names: tuple[str, ...] = COLOUR_MAPS) -> tuple[np.ndarray, str, float]:
    """Values in [0, 1] of ``colours`` [..., 3] (0-255) under the best-fitting colour map.

    Returns (values, colour-map name, mean RGB distance in 0-255 units to the chosen map colours).
    """
    flat = colours.reshape(-1, 3)
    best: tuple[float, str, np.ndarray] | None = None
    for name in names:
        lut = matplotlib.colormaps[name](np.linspace(0, 1, 256))[:, :3] * 255
        dist = np.linalg.norm(flat[:, None, :] - lut[None], axis=-1)
        index = dist.argmin(axis=1)
        residual = float(dist[np.arange(len(flat)), index].mean())
        if best is None or residual < best[0]:
            best = (residual, name, index / 255.0)
    assert best is not None
    residual, name, values = best
    return values.reshape(colours.shape[:-1]), name, residual


def read_published(path: Path) -> dict[str, Any]:
    """The published raster of one PNG, dm ascending (row 0 = most negative dm), with how it was read."""
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    frame = axes_frame(rgb)
    values, cmap, residual = invert_colour_map(cell_colours(rgb, frame))
    return {"raster": np.flipud(values), "frame": frame, "colour_map": cmap, "rgb_residual": residual}


def _unit(image: np.ndarray) -> np.ndarray:
    lo, hi = float(image.min()), float(image.max())
    return (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image, dtype=np.float64)


def agreement(published: np.ndarray, ours: np.ndarray) -> dict[str, float]:
    """Scale-free agreement of two [H, W] maps: Spearman, and SSIM of the min-max-scaled maps."""
    return {"spearman": float(metrics.spearman(published, ours)),
            "ssim_minmax": float(metrics.ssim(_unit(published), _unit(ours), data_range=1.0))}


def compare_run(run: Path, published_dir: Path) -> tuple[list[dict[str, Any]], dict[tuple[str, str], Any]]:
    """Rows of numbers per published map, and the arrays for the figure keyed by (class, method)."""
    sdir = SurveyDir(run / "crts")
    if not sdir.classmaps.is_dir():
        raise InputError(f"{sdir.classmaps}: no class maps (run the crts-original preset into {run} first)")
    stored = {(c, m): ClassMap.load(sdir.classmap_file(g, mm))
              for c, g in CLASSES.items() for m, mm in METHODS.items() if sdir.classmap_file(g, mm).exists()}
    rows, arrays = [], {}
    for png in sorted(published_dir.glob("*_ticked.png")):
        cls, method = png.name[: -len("_ticked.png")].split("_", 1)
        pub = read_published(png)
        row: dict[str, Any] = {"class": cls, "method": method, "colour_map": pub["colour_map"],
                               "rgb_residual": round(pub["rgb_residual"], 2)}
        arrays[(cls, method)] = {"png": png, "raster": pub["raster"]}
        ours = stored.get((cls, method))
        if ours is None:
            row["note"] = "no class map of ours (group skipped or method not run)"
            rows.append(row)
            continue
        arrays[(cls, method)].update(class_map=ours["class_map"], mean_map=ours["baseline_mean_input"])
        sign = ORIGINAL_SIGN[method]
        for name, key in (("class_map", "class_map"), ("mean_map", "baseline_mean_input")):
            for metric, value in agreement(pub["raster"], sign * ours[key]).items():
                row[f"{name}_{metric}"] = round(value, 3)
        others = [sign * v["class_map"] for (c, m), v in stored.items() if m == method and c != cls]
        if others:
            floor = [agreement(pub["raster"], o) for o in others]
            row["other_classes_spearman"] = round(float(np.mean([f["spearman"] for f in floor])), 3)
            row["other_classes_ssim_minmax"] = round(float(np.mean([f["ssim_minmax"] for f in floor])), 3)
        row["heldout_ssim"] = round(float(ours["heldout_ssim"]), 3)
        rows.append(row)
    return rows, arrays


def markdown(rows: list[dict[str, Any]]) -> str:
    """The agreement table as markdown (one row per published map)."""
    head = ("| class | method | Spearman: class map | Spearman: mean map | Spearman: other classes' maps "
            "| SSIM: class map | SSIM: mean map | SSIM: other classes' maps | colour fit (RGB dist.) |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        if "class_map_spearman" not in r:
            lines.append(f"| {r['class']} | {r['method']} | - | - | - | - | - | - | {r['rgb_residual']} |")
            continue
        lines.append(
            f"| {r['class']} | {r['method']} | {r['class_map_spearman']:.2f} | {r['mean_map_spearman']:.2f} "
            f"| {r.get('other_classes_spearman', float('nan')):.2f} | {r['class_map_ssim_minmax']:.2f} "
            f"| {r['mean_map_ssim_minmax']:.2f} | {r.get('other_classes_ssim_minmax', float('nan')):.2f} "
            f"| {r['rgb_residual']:.1f} ({r['colour_map']}) |")
    return "\n".join(lines) + "\n"


def plot(arrays: dict[tuple[str, str], Any], meta: dict[str, Any], out: Path) -> Path:
    """Per method a block of four rows (published PNG, its raster read back, our class map, our mean
    map) and one column per class."""
    classes, methods = list(CLASSES), list(METHODS)
    kinds = ("published PNG", "read back", "ours: class map", "ours: mean map")
    fig, axes = plt.subplots(len(methods) * len(kinds), len(classes),
                             figsize=(1.25 * len(classes), 1.1 * len(methods) * len(kinds)))
    for mi, method in enumerate(methods):
        signed = is_signed(METHODS[method])
        for ki, kind in enumerate(kinds):
            for ci, cls in enumerate(classes):
                ax = axes[mi * len(kinds) + ki, ci]
                entry = arrays.get((cls, method), {})
                drawn = True
                if kind == "published PNG" and "png" in entry:
                    ax.imshow(np.asarray(Image.open(entry["png"]).convert("RGB")))
                elif kind == "read back" and "raster" in entry:
                    draw_map(ax, entry["raster"], signed=False, meta=meta, colorbar=False)
                elif kind.startswith("ours") and "class_map" in entry:
                    image = entry["class_map" if kind.endswith("class map") else "mean_map"]
                    draw_map(ax, image, signed=signed, meta=meta, colorbar=False)
                else:
                    drawn = False
                # dmdt tick labels are unreadable at this size: the panels share the published axes
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_xlabel("")
                ax.set_ylabel(f"{method}\n{kind}" if ci == 0 else "", fontsize=6)
                for spine in ax.spines.values():
                    spine.set_visible(drawn)
                if mi == 0 and ki == 0:
                    ax.set_title(cls, fontsize=8)
    fig.suptitle("Published class maps (original CRTS CNN) vs ours; dm up, dt right;\n"
                 "ours: red = evidence for the class (published blanking: dark = evidence)", fontsize=7)
    fig.tight_layout(pad=0.3, h_pad=0.2, w_pad=0.2, rect=(0, 0, 1, 0.97))
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=60, format="png")
    plt.close(fig)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run directory of the crts-original preset")
    parser.add_argument("--published", type=Path, default=PUBLISHED, help="folder of <class>_<method>_ticked.png")
    parser.add_argument("--figure", type=Path, default=REPO / "docs" / "images" / "published_maps.png")
    parser.add_argument("--json", type=Path, default=REPO / "docs" / "published_maps_agreement.json")
    parser.add_argument("--markdown", type=Path, default=REPO / "docs" / "published_maps_agreement.md")
    args = parser.parse_args()
    if not args.published.is_dir():
        raise SystemExit(f"{args.published}: published maps folder not found")
    rows, arrays = compare_run(args.run, args.published)
    meta = json.loads((args.run / "crts" / "data.json").read_text())
    plot(arrays, meta, args.figure)
    write_json(args.json, rows)
    table = markdown(rows)
    write_text(args.markdown, "# Published class maps vs ours (generated by scripts/published_maps_figure.py)\n\n"
               + table)
    print(table)
    print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
