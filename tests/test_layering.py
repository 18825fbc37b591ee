"""The import layering of ARCHITECTURE.md, checked on the source: every import, inside functions too.

A *unit* is a folder under ``pix2pixai/`` (``pix2pixai.data``), ``metrics/`` or ``trainers/``
(``pix2pixai.metrics``, ``pix2pixai.trainers``), or a single module directly in ``pix2pixai/``
(``pix2pixai.compare``). A unit may import units of lower layers only, so there is no import
circle and no import that points back up. The base modules ``errors`` and ``atomic`` sit below
everything: every layer may write files safely and raise the user-facing error; ``digests`` (content
hashes) and ``output_safety`` (where a command may write) sit just above them for the same reason.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Lowest first. Units on one line form one layer and may not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__", "errors", "configs", "cache"),
    ("atomic",),
    ("digests", "output_safety"),
    ("metrics",),
    ("trainers",),
    ("data",),
    ("producers",),
    ("stores", "inspection"),
    ("classmaps", "classify", "explain_files"),
    ("compare",),
    ("rundir",),
    ("figures",),
    ("report",),
    ("pipeline",),
    ("console",),
    ("cli",),
)
LAYER_OF: dict[str, int] = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}

#: Source folder of each installed package root (pyproject's package-dir mapping).
ROOTS: dict[str, Path] = {"pix2pixai": REPO / "pix2pixai", "pix2pixai.metrics": REPO / "metrics",
                          "pix2pixai.trainers": REPO / "trainers"}


def _modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the distribution."""
    found = {}
    for root_name, folder in ROOTS.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([root_name, *parts])] = path
    return found


def _unit(module: str) -> str:
    """``pix2pixai.data.dmdt_images`` -> ``data``; ``pix2pixai`` (the package itself) -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imported(module: str, path: Path) -> set[str]:
    """Absolute names of the pix2pixai modules (or attributes) that ``module`` imports anywhere."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                stem = f"{base}.{node.module}" if node.module else base
            else:
                stem = node.module or ""
            names.add(stem)
            names.update(f"{stem}.{alias.name}" for alias in node.names)
    return {n for n in names if n == "pix2pixai" or n.startswith("pix2pixai.")}


def _target_unit(name: str, modules: dict[str, str]) -> str | None:
    """The unit of an imported name; ``from pix2pixai import __version__`` is the package itself."""
    if name == "pix2pixai":
        return "__init__"
    unit = _unit(name)
    return unit if unit in LAYER_OF or f"pix2pixai.{unit}" in modules else "__init__"


def test_every_unit_has_a_layer():
    units = {_unit(m) for m in _modules()}
    assert units - set(LAYER_OF) == set(), "add the new unit to LAYERS here and to ARCHITECTURE.md"


def test_imports_point_only_down():
    modules = _modules()
    names = {m: m for m in modules}
    upward = []
    for module, path in modules.items():
        source = _unit(module)
        for name in _imported(module, path):
            target = _target_unit(name, names)
            if target != source and LAYER_OF[target] >= LAYER_OF[source]:
                upward.append(f"{module} imports {name} ({source}: layer {LAYER_OF[source]} -> "
                              f"{target}: layer {LAYER_OF[target]})")
    assert upward == []


def test_layering_checker_sees_function_level_and_relative_imports(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text("def f():\n    from pix2pixai.pipeline import runner\n\nfrom ..figures import style\n")
    found = _imported("pix2pixai.data.mod", source)
    assert "pix2pixai.pipeline.runner" in found and "pix2pixai.figures.style" in found


def test_pyproject_lists_every_package_folder():
    """Packages are listed by hand (the package-dir mapping of metrics/ and trainers/ rules out
    automatic discovery): a new folder that is not listed would be left out of the wheel."""
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {m for m, p in _modules().items() if p.name == "__init__.py"}
    assert on_disk == listed


@pytest.mark.parametrize("shadow", ["metrics.py", "trainers.py"])
def test_a_local_module_named_like_a_subpackage_breaks_nothing(tmp_path, shadow):
    """A research folder's own metrics.py or trainers.py must not hide the toolkit's subpackages."""
    import subprocess
    import sys

    (tmp_path / shadow).write_text("raise ImportError('the user module was imported')\n")
    code = "import pix2pixai.classmaps, pix2pixai.trainers.splits; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
