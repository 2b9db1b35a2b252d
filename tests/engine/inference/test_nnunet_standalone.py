"""An imported nnU-Net model runs with nnunetv2 (and its helpers) impossible to import."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.peers.fixtures import nnunet_results  # noqa: F401  (pytest fixture)
from tests.peers.nnunet_folder import make_case, write_nifti

BLOCKED = ("nnunetv2", "acvl_utils", "batchgenerators", "skimage")

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {blocked!r}:
                raise ImportError("blocked for this test: " + name)

    sys.meta_path.insert(0, Block())
    try:
        import nnunetv2  # noqa: F401
        raise SystemExit("the import block does not work")
    except ImportError:
        pass
    from engine.io import load
    from engine.models import load_model
    from engine.trust import analyze
    from engine.trust.options import AnalysisOptions

    result = analyze(load(sys.argv[2]), load_model(sys.argv[1]), AnalysisOptions(mc_samples=1, mirroring=False))
    np.save(sys.argv[3], result.labels.array)
    assert not [m for m in sys.modules if m.split(".")[0] in {blocked!r}]
""")


def test_runs_without_nnunetv2(nnunet_results, tmp_path):  # noqa: F811
    from engine.io import load
    from engine.models import load_model
    from engine.models.importers.nnunet import convert
    from engine.trust import analyze
    from engine.trust.options import AnalysisOptions

    pytest.importorskip("dynamic_network_architectures")
    package = convert(nnunet_results, tmp_path / "pkg", name="nn-alone")
    image, _ = make_case(82, (30, 32, 30))
    path = tmp_path / "case.nii.gz"
    write_nifti(image, path, (1.0, 1.0, 1.1))
    out = tmp_path / "labels.npy"
    repo = Path(__file__).resolve().parents[3]
    run = subprocess.run([sys.executable, "-c", SCRIPT.format(blocked=set(BLOCKED)), str(package), str(path),
                          str(out)], cwd=repo, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    here = analyze(load(path), load_model(package), AnalysisOptions(mc_samples=1, mirroring=False))
    assert np.array_equal(np.load(out), here.labels.array) and here.labels.array.any()
