"""Write ``docs/api.md``, the reference of pix2pixai's public Python API, from the code itself.

The page is generated (``inspect`` signatures and docstrings, no documentation tool to install) so
that it cannot drift from the code: ``tests/test_api_docs.py`` regenerates it in memory and fails
when the committed page differs, e.g. after a public function's signature changed. Run::

    python3 scripts/make_api_docs.py           # rewrite docs/api.md
    python3 scripts/make_api_docs.py --check   # exit 1 if docs/api.md is out of date

Which modules are public, and in which order a reader meets them, is the ``MODULES`` table below;
a module's public names are its ``__all__``, else the functions and classes it defines whose names
do not start with ``_``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "api.md"

#: (module, what a reader finds there), in reading order: the chain's data, producers, class maps,
#: metrics, models, then the run machinery.
MODULES: tuple[tuple[str, str], ...] = (
    ("pix2pixai.data", "Light curves, dmdt images, ZTF alert triplets, subcategories, simulators"),
    ("pix2pixai.producers", "Explanation producers: one verb for every method"),
    ("pix2pixai.stores", "HDF5 map store"),
    ("pix2pixai.classmaps", "Group splits and class maps"),
    ("pix2pixai.compare", "Which class map is most faithful"),
    ("pix2pixai.classify", "Light curves to class probabilities"),
    ("pix2pixai.inspection", "Model inspection"),
    ("pix2pixai.rundir.config", "Run configs and profiles"),
    ("pix2pixai.rundir.layout", "Run directory: every file name"),
    ("pix2pixai.rundir.readers", "Reading a run directory"),
    ("pix2pixai.rundir.fingerprint", "Step fingerprints"),
    ("pix2pixai.pipeline.steps", "The chain's steps"),
    ("pix2pixai.pipeline.runner", "Whole runs"),
    ("pix2pixai.errors", "User-input errors"),
    ("pix2pixai.metrics", "Map similarity"),
    ("pix2pixai.metrics.ranking", "Ranking and aggregation"),
    ("pix2pixai.metrics.faithfulness", "Faithfulness checks"),
    ("pix2pixai.trainers", "Classifiers: architectures, training, legacy models, transfer"),
    ("pix2pixai.trainers.pix2pix", "pix2pix generators"),
)

_WIDTH = 100
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class _Annotation(str):
    """A string annotation (``from __future__ import annotations``) shown without quotes."""

    def __repr__(self) -> str:
        return str(self)


def public_names(module: ModuleType) -> list[str]:
    """``__all__`` in its own order, else the public functions and classes defined in ``module``."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [name for name, obj in vars(module).items()
            if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
            and getattr(obj, "__module__", None) == module.__name__]


def signature_text(obj: Any, name: str) -> str:
    """``name(params) -> return``, one parameter per line when longer than the page width."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return f"{name}(...)"
    params = [p.replace(annotation=_Annotation(p.annotation)) if isinstance(p.annotation, str) else p
              for p in sig.parameters.values()]
    returns = sig.return_annotation
    sig = sig.replace(parameters=params,
                      return_annotation=_Annotation(returns) if isinstance(returns, str) else returns)
    text = _ADDRESS.sub("", f"{name}{sig}")
    if len(text) <= _WIDTH:
        return text
    head, inner, tail = _split_outer(text, len(name))
    return head + "(\n" + "".join(f"    {part},\n" for part in inner) + ")" + tail


def _split_outer(text: str, start: int) -> tuple[str, list[str], str]:
    """Split ``name(a, b=(1, 2)) -> r`` at the commas of the outermost parentheses."""
    depth, parts, current, quote = 0, [], "", ""
    for index in range(start + 1, len(text)):
        char = text[index]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                parts.append(current.strip())
                return text[:start], [p for p in parts if p], text[index + 1:]
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += char
    return text[:start], [text[start + 1:]], ""


def docstring_markdown(obj: Any) -> str:
    """The summary paragraph as text, the rest of the docstring verbatim in a fenced block."""
    doc = inspect.getdoc(obj) or ""
    if not doc:
        return "*(no docstring)*\n"
    summary, _, rest = doc.partition("\n\n")
    out = " ".join(line.strip() for line in summary.splitlines()) + "\n"
    if rest.strip():
        out += "\n```text\n" + rest.rstrip() + "\n```\n"
    return out


def constant_text(value: Any) -> str:
    """A short description of a public constant (long containers by their keys or length)."""
    if isinstance(value, dict):
        return f"dict with keys {', '.join(map(str, value))}"
    text = _ADDRESS.sub("", repr(value))
    if len(text) <= _WIDTH:
        return f"`{text}`"
    size = f" of {len(value)} items" if hasattr(value, "__len__") else ""
    return f"{type(value).__name__}{size}"


def _own_methods(cls: type) -> Iterator[tuple[str, Any]]:
    """Public methods and properties defined by ``cls`` itself (not inherited, not dataclass fields)."""
    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    for name, member in vars(cls).items():
        if name.startswith("_") or name in fields:
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if inspect.isfunction(member) or isinstance(member, property):
            yield name, member


def document(qualified: str, obj: Any) -> str:
    """The markdown section of one public name."""
    short = qualified.rsplit(".", 1)[1]
    out = f"### `{qualified}`\n\n"
    if inspect.isclass(obj):
        shown = signature_text(obj, short).removesuffix(" -> None")  # __init__'s return, not the class's
        out += f"```python\nclass {shown}\n```\n\n{docstring_markdown(obj)}"
        for name, member in _own_methods(obj):
            if isinstance(member, property):
                out += f"\n- `{short}.{name}` (property): {docstring_markdown(member).splitlines()[0]}\n"
            else:
                shown = signature_text(member, f"{short}.{name}")
                out += f"\n#### `{short}.{name}`\n\n```python\n{shown}\n```\n\n{docstring_markdown(member)}"
        return out + "\n"
    if callable(obj):
        return out + f"```python\n{signature_text(obj, short)}\n```\n\n{docstring_markdown(obj)}\n"
    return out + f"Constant: {constant_text(obj)}\n\n"


def render() -> str:
    """The whole page."""
    lines = [
        "# API reference\n",
        "Generated from the code's signatures and docstrings by `scripts/make_api_docs.py`; do not edit",
        "by hand (`tests/test_api_docs.py` fails when this page is out of date). The command line is",
        "described in the [README](../README.md) and the [tutorial](tutorial.md).\n",
    ]
    lines += [f"- [`{name}`](#{name.replace('.', '')}): {what}" for name, what in MODULES]
    body = []
    for name, what in MODULES:
        module = importlib.import_module(name)
        summary = (inspect.getdoc(module) or "").partition("\n\n")[0].replace("\n", " ")
        body.append(f"## {name}\n\n**{what}.** {summary}\n")
        for public in public_names(module):
            body.append(document(f"{name}.{public}", getattr(module, public)))
    return "\n".join(lines) + "\n\n" + "\n".join(body).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/api.md differs from the code")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is out of date: run python3 scripts/make_api_docs.py", file=sys.stderr)
            return 1
        return 0
    sys.path.insert(0, str(REPO))
    from pix2pixai import atomic

    atomic.write_text(OUT, text)
    print(f"wrote {OUT} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
