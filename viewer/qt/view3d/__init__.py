"""The 3D view: VTK volume rendering embedded in Qt (imported only when a 3D view is shown)."""
