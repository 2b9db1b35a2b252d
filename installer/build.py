"""Build the standalone app: ``dist/Candor/`` and ``dist/Candor-<version>-<os>-<arch>.tar.gz``.

Run with the project's venv: ``python installer/build.py`` (``make installer`` does it). Prints the
build time and the folder size. Works on Linux, macOS and Windows (archive is .zip on Windows).
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def strip_libraries(app: Path) -> None:
    """Strip symbol tables from the bundled shared libraries (a fifth of VTK's and torch's size).

    PyInstaller's own ``strip`` option is off: stripping the OpenBLAS builds that numpy and SciPy
    ship makes them unloadable ("ELF load command address/offset not page-aligned"), so those are
    left as they are.
    """
    tool = shutil.which("strip")
    if tool is None or platform.system() != "Linux":
        return
    for lib in (app / "_internal").rglob("*.so*"):
        if lib.is_symlink() or not lib.is_file() or "openblas" in lib.name.lower() \
                or lib.parent.name.endswith(".libs"):
            continue
        subprocess.run([tool, str(lib)], check=False, stderr=subprocess.DEVNULL)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from engine import __version__

    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean",
           "--distpath", str(DIST), "--workpath", str(ROOT / "build" / "pyinstaller"),
           str(ROOT / "installer" / "candor.spec")]
    subprocess.run(cmd, check=True, cwd=ROOT)
    app = DIST / "Candor"
    strip_libraries(app)
    system = {"Darwin": "macos", "Windows": "windows"}.get(platform.system(), platform.system().lower())
    base = DIST / f"Candor-{__version__}-{system}-{platform.machine().lower()}"
    fmt = "zip" if system == "windows" else "gztar"
    archive = shutil.make_archive(str(base), fmt, root_dir=DIST, base_dir="Candor")
    elapsed = time.perf_counter() - t0
    size = folder_size(app)
    print(f"built {app} ({size / 2**20:.0f} MiB unpacked), {archive} "
          f"({Path(archive).stat().st_size / 2**20:.0f} MiB) in {elapsed / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
