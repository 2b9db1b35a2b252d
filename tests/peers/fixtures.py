"""pytest fixtures over the peers' own artefacts; import them into a test module to use them.

``nnunet_results``: the cached nnU-Net v2 results folder of :mod:`tests.peers.nnunet_folder`
(built by nnunetv2 on first use, ~40 s on 2 cores); ``nnunet_results_2d`` its 2d configuration.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def nnunet_results() -> Path:
    pytest.importorskip("nnunetv2", reason="the nnU-Net tests need the peers extra (pip install -e '.[peers]')")
    from tests.peers.nnunet_folder import results_folder

    return results_folder()


@pytest.fixture(scope="session")
def nnunet_results_2d(nnunet_results) -> Path:
    """The 2d configuration's results folder (same dataset, same plans)."""
    from tests.peers.nnunet_folder import results_folder

    return results_folder("2d")
