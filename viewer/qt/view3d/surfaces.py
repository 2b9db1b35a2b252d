"""Label maps as smooth surfaces (discrete flying edges + windowed-sinc smoothing), Qt-free.

Runs on a worker thread (no rendering here): ``label_surfaces`` returns polydata the GUI thread
then hands to the scene.
"""

from __future__ import annotations

import numpy as np

from vtkmodules.vtkFiltersCore import vtkPolyDataNormals, vtkWindowedSincPolyDataFilter
from vtkmodules.vtkFiltersGeneral import vtkDiscreteFlyingEdges3D

from engine.jobs import report
from viewer.qt.view3d.rendering import image_data, proxy_factor


def label_surfaces(labels: np.ndarray, spacing_zyx, origin_xyz, label_ids, *,
                   max_voxels: int = 256 ** 3, progress=None, cancel=None) -> list:
    """[(label_id, vtkPolyData)] for each id present; large maps are strided first."""
    factor = proxy_factor(labels.shape, max_voxels)
    data = labels[::factor, ::factor, ::factor] if factor > 1 else labels
    spacing_xyz = tuple(float(s) * factor for s in spacing_zyx[::-1])
    img, kept = image_data(data, spacing_xyz, origin_xyz)
    out = []
    ids = list(label_ids)
    for n, label_id in enumerate(ids):
        report(progress, cancel, n / max(len(ids), 1), "label surfaces")
        edges = vtkDiscreteFlyingEdges3D()
        edges.SetInputData(img)
        edges.SetValue(0, float(label_id))
        smooth = vtkWindowedSincPolyDataFilter()
        smooth.SetInputConnection(edges.GetOutputPort())
        smooth.SetNumberOfIterations(15)
        smooth.SetPassBand(0.08)
        smooth.NormalizeCoordinatesOn()
        smooth.BoundarySmoothingOff()
        normals = vtkPolyDataNormals()
        normals.SetInputConnection(smooth.GetOutputPort())
        normals.SetFeatureAngle(120)
        normals.Update()
        poly = normals.GetOutput()
        if poly.GetNumberOfPoints() > 0:
            out.append((int(label_id), poly))
    del kept
    return out
