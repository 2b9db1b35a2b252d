"""The standalone app built by `make installer` runs its self-test and opens its window.

Marked slow: `make test-installer` builds the app first and runs these; the default suite skips
them (building takes minutes). Each test runs the frozen executable from a temporary directory
with a clean environment: no project checkout on PYTHONPATH, no virtual environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dist" / "Candor" / ("Candor.exe" if os.name == "nt" else "Candor")

pytestmark = pytest.mark.slow


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "DISPLAY", "XAUTHORITY", "XDG_RUNTIME_DIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if ".venv" not in p and str(ROOT) not in p)
    env.update(HOME=str(home), CANDOR_HOME=str(home / "candor"), XDG_CACHE_HOME=str(home / "cache"))
    env.update(extra)
    return env


@pytest.fixture
def app():
    if not APP.exists():
        pytest.fail(f"{APP} is missing: run `make installer` (or `make test-installer`) first")
    return APP


def test_frozen_selftest_passes_from_a_clean_environment(app, tmp_path):
    result = subprocess.run([str(app), "--selftest"], cwd=tmp_path, env=_clean_env(tmp_path),
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "candor self-test PASS" in result.stdout
    for step in ("load model", "read series", "segment", "uncertainty+saliency", "export NIfTI+SEG"):
        assert step in result.stdout


def test_frozen_app_shows_its_main_window_under_xvfb(app, tmp_path):
    """Start the GUI on a virtual X server, screenshot the window, check it is not blank."""
    xvfb = shutil.which("Xvfb")
    if not xvfb:
        pytest.fail("Xvfb is not installed (apt-get install xvfb)")
    display = ":97"
    server = subprocess.Popen([xvfb, display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        shot = tmp_path / "window.png"
        env = _clean_env(tmp_path, DISPLAY=display, QT_QPA_PLATFORM="xcb")
        result = subprocess.run([str(app), "view", "--screenshot", str(shot)], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert shot.exists(), "the app did not save its window screenshot"
        from PySide6.QtGui import QImage

        img = QImage(str(shot)).convertToFormat(QImage.Format.Format_RGB32)
        assert img.width() >= 600 and img.height() >= 400
        pixels = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
        assert pixels.std() > 5, "the main window screenshot is blank"
    finally:
        server.terminate()
        server.wait(10)
