"""Only :mod:`pix2pixai.atomic` renames files: every other module writes through it.

Checked on the source of every module under ``pix2pixai/``, ``metrics/`` and ``trainers/`` with
``ast``. A call counts as a rename when it is

* ``os.replace``, ``os.rename``, ``os.renames`` or ``shutil.move`` (as an attribute of the module, or
  a name imported from it: ``from os import replace``), whatever its arguments;
* a method call ``<expr>.replace(target)`` or ``<expr>.rename(target)`` with exactly one positional
  argument, no keywords and no ``*`` / ``**`` unpacking, whose argument is not a literal (constant,
  dict, list, set, tuple, lambda, comprehension): the shape of ``Path.replace`` / ``Path.rename``,
  which take exactly one target path.

So ``str.replace(old, new)`` and ``bytes.replace`` (two arguments), ``np.char.replace`` (three),
``dataclasses.replace(obj, **changes)`` and ``datetime.replace(year=...)`` (keywords) and a mapping
given as a literal (``frame.rename({"a": "b"})``) are not renames.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = (REPO / "pix2pixai", REPO / "metrics", REPO / "trainers")
THE_WRITER = REPO / "pix2pixai" / "atomic.py"

#: Module functions that rename or move a file.
RENAMING_FUNCTIONS: dict[str, frozenset[str]] = {"os": frozenset({"replace", "rename", "renames"}),
                                                  "shutil": frozenset({"move"})}
RENAMING_METHODS = frozenset({"replace", "rename"})
NOT_A_PATH = (ast.Constant, ast.Dict, ast.List, ast.Set, ast.Tuple, ast.Lambda, ast.JoinedStr,
              ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def renames(source: str) -> list[str]:
    """``line: code`` of every call in ``source`` that renames a file, by the rule of this module's docstring."""
    tree = ast.parse(source)
    imported = {alias.asname or alias.name: f"{node.module}.{alias.name}"
                for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module in RENAMING_FUNCTIONS
                for alias in node.names if alias.name in RENAMING_FUNCTIONS[node.module]}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        module_function = (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                           and func.attr in RENAMING_FUNCTIONS.get(func.value.id, ()))
        imported_function = isinstance(func, ast.Name) and func.id in imported
        if module_function or imported_function or _path_method(node):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def _path_method(call: ast.Call) -> bool:
    """``<expr>.replace(target)`` / ``<expr>.rename(target)`` shaped like ``Path.replace`` / ``Path.rename``."""
    return (isinstance(call.func, ast.Attribute) and call.func.attr in RENAMING_METHODS
            and len(call.args) == 1 and not call.keywords and not isinstance(call.args[0], ast.Starred)
            and not isinstance(call.args[0], NOT_A_PATH))


def test_only_the_atomic_module_renames_files():
    offenders = []
    for folder in SOURCE_FOLDERS:
        for path in sorted(folder.rglob("*.py")):
            if path != THE_WRITER:
                offenders += [f"{path.relative_to(REPO)}:{where}" for where in renames(path.read_text())]
    assert offenders == [], "write through pix2pixai.atomic (atomic_path, write_file, publish) instead"


def test_the_checker_sees_renames_in_every_spelling():
    source = """
import os, shutil
from os import replace as swap
os.replace(tmp, path)
os.rename(a, b)
shutil.move(a, b)
swap(a, b)
(out / "model.keras.tmp.keras").replace(out / "model.keras")
Path(tmp).rename(target)
partial.replace(self.path)
"""
    assert [line.split(":")[0] for line in renames(source)] == ["4", "5", "6", "7", "8", "9", "10"]


def test_the_checker_leaves_string_array_and_record_replacements_alone():
    source = """
name.strip().lower().replace(" ", "_")
np.char.replace(names, "a", "b")
dataclasses.replace(config, seed=1)
stamp.replace(year=2020)
frame.rename({"a": "b"})
frame.rename(columns=str.lower)
text.replace(*pair)
"""
    assert renames(source) == []
