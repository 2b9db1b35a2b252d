"""Small scans with an AI mask and a corrected mask for the queue tests."""

from __future__ import annotations

import numpy as np
import pytest

from engine.labels import LabelInfo, LabelTable
from engine.volume import Geometry, Volume


@pytest.fixture
def case():
    """(image, ai mask, corrected mask, label table) on a 12×40×48 oblique-free grid."""
    geometry = Geometry((48, 40, 12), (0.9, 0.8, 2.5), (-20.0, 14.5, 30.0))
    rng = np.random.default_rng(7)
    image = Volume(rng.normal(40, 10, geometry.shape).astype(np.int16), geometry, "CT",
                   {"study_uid": "1.2.826.0.1.3680043.8.498.1", "series_uid": "1.2.826.0.1.3680043.8.498.2"})
    ai = np.zeros(geometry.shape, np.uint8)
    ai[4:8, 10:20, 10:20] = 1           # 400 voxels of label 1
    corrected = ai.copy()
    corrected[4:8, 10:20, 18:24] = 1    # grows by 4 slices × 10 rows × 4 columns = 160
    corrected[6, 30:33, 30:33] = 2      # a missed lesion of label 2: 9 voxels
    table = LabelTable([LabelInfo(1, "Tumour", (255, 0, 0)), LabelInfo(2, "Satellite", (0, 255, 0))])
    return image, ai, corrected, table
