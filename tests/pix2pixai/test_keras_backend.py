"""pix2pixai runs Keras on TensorFlow only: another backend is refused by name, before Keras loads."""

from __future__ import annotations

import os
import subprocess
import sys


def _import_pix2pixai(backend: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    if backend is not None:
        env["KERAS_BACKEND"] = backend
    code = "import os, sys, pix2pixai; print(os.environ['KERAS_BACKEND'], 'keras' in sys.modules)"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_backend_defaults_to_tensorflow_without_importing_keras():
    done = _import_pix2pixai(None)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["tensorflow", "False"]


def test_another_backend_is_refused_with_its_name():
    done = _import_pix2pixai("torch")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "KERAS_BACKEND='torch'" in last and "TensorFlow backend" in last
    assert "No module named 'torch'" not in done.stderr
