"""pydicom, imported when first needed and set up for Candor.

Importing pydicom costs 0.12–0.3 s (its pixel-decoder registry pulls in the decoder plugins,
``requests`` and ``urllib``). The ordinary paths of a scan and a load never need it: headers of
uncompressed little-endian files are read by :mod:`engine.io.fastheader` and their pixels with
``readinto`` (:mod:`engine.io.pixels`). Every module of ``engine.io`` that does call pydicom
gets it from :func:`pydicom`, which sets pydicom's reading validation off before the first
parse: its messages quote element values, which may identify a patient. The log and warning
filters that keep pydicom's messages out of stderr are set by ``engine.io`` itself, without
importing pydicom, so they also cover code elsewhere that imports pydicom directly.
"""

from __future__ import annotations

import logging
import sys
import warnings
from types import ModuleType

_configured = False


def quiet_filters() -> None:
    """Keep pydicom's log records and ``UserWarning``s (which quote values) off stderr."""
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\..*)?$")


def pydicom() -> ModuleType:
    """The pydicom module, with Candor's reading settings applied (once)."""
    global _configured
    import pydicom as module

    if not _configured:
        module.config.settings.reading_validation_mode = module.config.IGNORE
        _configured = True
    return module


def configure_if_loaded() -> None:
    """Apply the reading settings now if something has already imported pydicom."""
    if "pydicom" in sys.modules:
        pydicom()
