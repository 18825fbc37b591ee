"""report.html: self-contained (figures embedded), tables present, and rendered by a real headless
Chromium with no console errors and every figure shown (skipped with a reason without Chromium)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from pix2pixai.report import write_report  # noqa: E402


def _fake_run(out: Path) -> int:
    """A run directory (marked as this toolkit's) with a manifest, a classifier report, a comparison and
    three figures."""
    from pix2pixai.rundir.layout import RunDir

    RunDir(out).write_marker()
    manifest = {
        "pix2pixai": "0.1.0",
        "configs": {"crts": {}},
        "class_maps": [{"survey": "crts", "group": "EW", "method": "gradcam", "file": "x", "ranking": "fidelity",
                        "heldout_ssim": 0.8, "comparison": {"fidelity_top1": {"deletion_auc": 0.2},
                                                            "mean_input": {"deletion_auc": 0.3}}}],
        "steps": {},
    }
    (out / "crts" / "classifier").mkdir(parents=True)
    (out / "crts" / "compare").mkdir(parents=True)
    (out / "manifest.json").write_text(json.dumps(manifest))
    (out / "crts" / "classifier" / "report.json").write_text(json.dumps({"accuracy": 0.9, "macro_f1": 0.88}))
    (out / "crts" / "compare" / "comparison.json").write_text(json.dumps([
        {"group": "EW", "method": "gradcam", "scores": {"fidelity_top1": {"deletion_auc": 0.2, "insertion_auc": 0.7},
                                                        "random": {"deletion_auc": 0.5, "insertion_auc": 0.4}}}]))
    figs = out / "figures" / "crts"
    figs.mkdir(parents=True)
    for name in ("class_maps", "confusion", "comparison"):
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.imshow(np.random.default_rng(0).random((8, 8)))
        fig.savefig(figs / f"{name}.png")
        plt.close(fig)
    return 3


def test_report_is_self_contained_with_tables(tmp_path):
    n = _fake_run(tmp_path)
    page = write_report(tmp_path).read_text()
    assert page.count("data:image/png;base64,") == n
    assert "src=\"http" not in page and "<script" not in page
    assert "Classifier quality" in page and "Aggregation comparison: crts" in page
    assert "0.800" in page  # held-out SSIM in the class-map table


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _webdriver(port: int, method: str, path: str, payload: dict | None = None) -> dict:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_report_renders_in_headless_chromium(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("Debian chromium + chromium-driver not installed (scripts/test.sh installs them as root)")
    n = _fake_run(tmp_path)
    report = write_report(tmp_path)
    port = _free_port()
    proc = subprocess.Popen([driver, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                _webdriver(port, "GET", "/status")
                break
            except OSError:
                time.sleep(0.1)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={tmp_path / 'profile'}"]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"}}}}
        session = _webdriver(port, "POST", "/session", caps)["value"]["sessionId"]
        try:
            _webdriver(port, "POST", f"/session/{session}/url", {"url": report.resolve().as_uri()})
            shown = _webdriver(port, "POST", f"/session/{session}/execute/sync", {
                "script": "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0);",
                "args": []})["value"]
            logs = _webdriver(port, "POST", f"/session/{session}/se/log", {"type": "browser"})["value"]
        finally:
            _webdriver(port, "DELETE", f"/session/{session}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert shown == [True] * n
    errors = [entry for entry in logs if entry.get("level") == "SEVERE"]
    assert errors == []
