"""AI › Federated…: the dialog shows the site's state; Join runs against a real Flower server
process on loopback; Leave (Cancel) ends a join that waits for a server that is not there."""

from __future__ import annotations

import subprocess
import sys

from PySide6.QtCore import Qt

from engine.federated import sitedata
from engine.federated.simulate import free_port
from tests.viewer.edit_helpers import open_window
from viewer.qt.features.federated import FederatedController


def _site(home):
    base = sitedata.build_base_model(home / "base" / f"{sitedata.NAME}-{sitedata.VERSION}", epochs=1, steps=4)
    sitedata.make_site(home, 0, base, corrections=3)


def _controller(qtbot):
    window = open_window(qtbot, with_ai=False)
    window.services.model_source = sitedata.NAME
    return window, window.findChild(FederatedController)


def test_join_a_real_federation_from_the_dialog(qtbot, candor_home, tmp_path):
    _site(candor_home)
    window, fed = _controller(qtbot)
    assert fed.action in window.menu("&AI").actions()
    fed.action.trigger()
    dialog = fed.dialog
    assert dialog.isVisible()
    assert dialog.state.text() == "Not taking part" and dialog.round.text() == "No federated round yet"
    assert not dialog.join_button.isEnabled()  # joining needs an address: an explicit action

    address = f"127.0.0.1:{free_port()}"
    with open(tmp_path / "server.log", "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "engine", "federated", "server", "--rounds", "1",
                                   "--min-sites", "1", "--address", address, "--local-epochs", "1",
                                   "--steps-per-epoch", "2"], stdout=subprocess.DEVNULL, stderr=log)
        try:
            dialog.address.setText(address)
            with qtbot.waitSignal(fed.finished, timeout=180000) as blocker:
                qtbot.mouseClick(dialog.join_button, Qt.MouseButton.LeftButton)
                assert dialog.state.text() == "Taking part in a federation"
                assert dialog.leave_button.isEnabled() and not dialog.join_button.isEnabled()
            assert server.wait(timeout=60) == 0
        finally:
            if server.poll() is None:
                server.kill()
            server.wait()
    status = blocker.args[0]
    assert status["last"]["round"] == 1 and status["last"]["gate"] in ("passed", "failed")
    assert dialog.state.text() == "Not taking part"
    assert dialog.round.text().startswith(f"Round 1 (model {sitedata.NAME} {sitedata.VERSION})")
    assert dialog.gate.text().startswith(status["last"]["gate"].capitalize())
    assert "Federation ended" in window.statusBar().currentMessage()
    installed = status["last"]["installed"]
    assert (candor_home / "models" / f"{sitedata.NAME}-1.0.1").is_dir() == bool(installed)


def test_leave_ends_a_join_that_waits_and_bad_addresses_are_refused(qtbot, candor_home):
    _site(candor_home)
    window, fed = _controller(qtbot)
    dialog = fed.show_dialog()

    with qtbot.waitSignal(fed.finished, timeout=30000) as blocker:
        fed.join("no-port-here")
    assert blocker.args == [None]
    assert "HOST:PORT" in window.statusBar().currentMessage()

    dialog.address.setText(f"127.0.0.1:{free_port()}")  # nobody listens: the client keeps retrying
    with qtbot.waitSignal(fed.finished, timeout=60000) as blocker:
        qtbot.mouseClick(dialog.join_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: fed.progress.isVisible(), timeout=5000)
        qtbot.mouseClick(dialog.leave_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [None]
    assert "Left the federation" in window.statusBar().currentMessage()
    assert dialog.state.text() == "Not taking part" and dialog.join_button.isEnabled()
