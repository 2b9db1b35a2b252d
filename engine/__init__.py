"""Candor's engine: imaging I/O, models, inference, trust maps, corrections, fine-tuning.

Nothing in this package imports Qt, pyqtgraph or VTK (``tests/test_architecture.py`` enforces it),
so everything here runs from the ``candor`` CLI, a script, a notebook or a server.
"""

__version__ = "0.1.0"
