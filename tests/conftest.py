"""Shared test fixtures: every test gets its own Candor user-data folder.

GUI tests (those using pytest-qt's ``qtbot``/``qapp``, or marked ``gui``) need a display server:
pytest-xvfb starts Xvfb when it is installed. Without Xvfb and without a usable ``DISPLAY``,
Qt aborts the whole run inside ``qapp``; instead this file says once which package to install and
skips the GUI tests, so the Qt-free tests still run. ``CANDOR_REQUIRE_DISPLAY=1`` (or ``CI`` set)
turns the missing display into an error, so a CI job never goes green by skipping its GUI tests.

Every GUI test is checked for leaks (``tests/viewer/leaks.py``): a top-level widget, a thread or
QThread it started, or an unfinished job still alive after its teardown fails it. A test whose leak
is a third-party library's opts out explicitly: ``@pytest.mark.allow_leaks("threads", reason=...)``.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import pytest

GUI_FIXTURES = ("qtbot", "qapp")
INSTALL_HINT = ("install Xvfb to run them (Debian/Ubuntu: sudo apt-get install xvfb xauth; "
                "Fedora: sudo dnf install xorg-x11-server-Xvfb xorg-x11-xauth)")
_NO_DISPLAY = pytest.StashKey[str | None]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_leaks(*kinds, reason): this GUI test may leave "
                            "widgets/threads/jobs alive (a third-party library's; say why)")


@pytest.fixture(autouse=True)
def no_leaks(request):
    """Fail a GUI test that leaves top-level widgets, threads/QThreads or unfinished jobs alive.

    Autouse fixtures are set up before ``qtbot``, so this teardown runs after pytest-qt has
    closed the widgets the test registered with ``qtbot.addWidget``.
    """
    if not _is_gui(request.node):
        yield
        return
    from tests.viewer import leaks

    marker = request.node.get_closest_marker("allow_leaks")
    allow: tuple[str, ...] = ()
    if marker is not None:
        allow = tuple(marker.args)
        unknown = set(allow) - set(leaks.KINDS)
        if unknown or not marker.kwargs.get("reason"):
            pytest.fail(f"allow_leaks needs kinds from {leaks.KINDS} and a reason")
    before = leaks.snapshot()
    yield
    problems = leaks.leaks(before, allow)
    if problems:
        pytest.fail("the test left these alive:\n  " + "\n  ".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def candor_home(tmp_path_factory, monkeypatch):
    """Isolate the user data folder (models, queue, autosave, recent files) per test."""
    home = tmp_path_factory.mktemp("candor_home")
    monkeypatch.setenv("CANDOR_HOME", str(home))
    return home


# Display detection ---------------------------------------------------------------------------
def _connects(family: int, address) -> bool:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(address)
        return True
    except OSError:
        return False


def _x_server_answers(display: str) -> bool:
    """Whether an X server listens at ``display`` (``:N``, ``unix:N`` or ``host:N``)."""
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return False
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        # Linux's abstract socket first (what Xvfb listens on), then the socket file
        return any(_connects(socket.AF_UNIX, addr) for addr in ("\0" + path, path))
    try:
        socket.create_connection((host.strip("[]"), 6000 + int(number)), timeout=1.0).close()
        return True
    except OSError:
        return False


def display_problem() -> str | None:
    """Why Qt could not open a window here, or None when it can (ask after pytest-xvfb starts)."""
    if not sys.platform.startswith("linux"):
        return None  # macOS and Windows always have their native platform
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0]
    if platform and platform not in ("xcb", "wayland", "wayland-egl"):
        return None  # offscreen, minimal, ...: chosen by the user, needs no display server
    display = os.environ.get("DISPLAY", "")
    if display and _x_server_answers(display):
        return None  # a desktop session, or the Xvfb that pytest-xvfb started
    wayland = os.environ.get("WAYLAND_DISPLAY", "")
    if wayland and platform != "xcb":
        runtime = Path(os.environ.get("XDG_RUNTIME_DIR", "/run/user/0"))
        if _connects(socket.AF_UNIX, str(runtime / wayland)):
            return None
    xvfb = "Xvfb was not started (--no-xvfb)" if shutil.which("Xvfb") else "Xvfb is not installed"
    if display:
        return f"no display server: none answers at DISPLAY={display} and {xvfb}"
    return f"no display server: {xvfb} and DISPLAY is not set"


def _no_display(config: pytest.Config) -> str | None:
    if _NO_DISPLAY not in config.stash:
        config.stash[_NO_DISPLAY] = display_problem()
    return config.stash[_NO_DISPLAY]


def _display_required() -> bool:
    flag = os.environ.get("CANDOR_REQUIRE_DISPLAY")
    if flag is not None:
        return flag not in ("", "0")
    return bool(os.environ.get("CI"))


def _is_gui(item: pytest.Item) -> bool:
    fixtures = getattr(item, "fixturenames", ())
    return item.get_closest_marker("gui") is not None or any(f in fixtures for f in GUI_FIXTURES)


def pytest_report_header(config: pytest.Config) -> str | None:
    problem = _no_display(config)
    return f"GUI tests skipped: {problem}; {INSTALL_HINT}" if problem else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gui = [item for item in items if _is_gui(item)]
    for item in gui:
        item.add_marker(pytest.mark.gui)  # so `-m "not gui"` selects the Qt-free tests
    problem = _no_display(config) if gui else None
    if problem is None:
        return
    if _display_required():
        raise pytest.UsageError(f"{problem}, and the GUI tests must run here "
                                f"(CANDOR_REQUIRE_DISPLAY or CI is set); {INSTALL_HINT}")
    skip = pytest.mark.skip(reason=f"{problem}; {INSTALL_HINT}")
    for item in gui:
        item.add_marker(skip)
