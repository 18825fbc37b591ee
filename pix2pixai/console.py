"""What the ``pix2pixai`` command shows on stderr: nothing of TensorFlow's start-up, one line per error.

Two jobs, both about keeping the CLI's promise of one line on stderr for any error:

- TensorFlow prints about six lines on stderr while it is imported (absl's pre-init warning, oneDNN,
  the CUDA stub, the CPU feature guard), from C++, whatever ``TF_CPP_MIN_LOG_LEVEL`` says, so
  Python's logging cannot hold them back; at lower levels its device start-up adds more (a failed
  ``cuInit``). :func:`quiet_import` captures file descriptor 2 around that one import (and a
  ``then`` step such as starting the devices), wherever in the command it happens, and shows the
  lines only when asked (``pix2pixai --verbose``).
- An unexpected exception is a bug: :func:`internal_error` writes its traceback to a log file in
  the user's cache folder (:func:`pix2pixai.cache.cache_dir`) and returns the one line naming the file.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator

from pix2pixai import __version__, atomic
from pix2pixai.cache import cache_dir
from pix2pixai.errors import InputError


#: Called with the freshly imported module, still inside the capture.
Then = Callable[[ModuleType], object]


@contextlib.contextmanager
def quiet_import(name: str, *, show: bool = False, then: Then | None = None) -> Iterator[None]:
    """While active, the first import of the top-level module ``name`` (followed by ``then(module)``)
    runs with fd 2 captured; the captured text is written to stderr afterwards only if ``show``."""
    finder = _QuietFinder(name, show, then)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds ``name`` with the other finders and wraps its loader in :class:`_QuietLoader` (once)."""

    def __init__(self, name: str, show: bool, then: Then | None):
        self._name, self._show, self._then = name, show, then

    def find_spec(self, fullname: str, path: object, target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != self._name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader, self._show, self._then)
        return spec


class _QuietLoader(importlib.abc.Loader):
    """The module's own loader, run with fd 2 captured; the module keeps its own loader afterwards."""

    def __init__(self, loader: importlib.abc.Loader, show: bool, then: Then | None):
        self._loader, self._show, self._then = loader, show, then

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        with _stderr_captured(self._show):
            self._loader.exec_module(module)
            if self._then is not None:
                self._then(module)


@contextlib.contextmanager
def _stderr_captured(show: bool) -> Iterator[None]:
    """Point fd 2 at a temporary file (C++ writes included), then restore it; replay if ``show``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if show:
                sink.seek(0)
                sys.stderr.write(sink.read().decode(errors="replace"))
                sys.stderr.flush()


def internal_error(command: str, error: BaseException) -> str:
    """Log ``error``'s traceback in :func:`cache_dir` and return the one line the CLI prints."""
    path = cache_dir() / f"error-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"
    text = "".join(traceback.format_exception(error))
    try:
        atomic.write_text(path, f"pix2pixai {__version__}, command {command}, argv {sys.argv}\n{text}")
        where = f"traceback in {path}"
    except (OSError, InputError) as err:
        where = f"traceback not saved ({err})"
    first = next(iter(str(error).splitlines()), "")
    return f"pix2pixai {command}: internal error: {type(error).__name__}: {first}; {where}"
