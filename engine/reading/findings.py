"""What a report says: the lesion table of one label, the reader's measurements, the AI's provenance.

One frozen :class:`Findings` feeds both the DICOM SR (:mod:`engine.export.sr`) and the
human-readable report (:mod:`engine.reading.report`), so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.errors import InputError
from engine.reading.lesions import Lesion
from engine.reading.measure import Measurement

#: Who made the mask: an AI model as is, an AI result a person corrected, or a person.
KINDS = ("ai", "corrected", "manual")


@dataclass(frozen=True)
class AIProvenance:
    """The model behind a mask and what its trust check said (``ood_flag`` ``None`` = not run)."""

    kind: str = "manual"
    model_name: str | None = None
    model_version: str | None = None
    ood_flag: bool | None = None
    ood_reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"provenance must be one of {', '.join(KINDS)}, not {self.kind!r}")

    @property
    def corrected(self) -> bool:
        return self.kind == "corrected"

    def verdict(self) -> str:
        """The trust verdict in plain words, for a reader who does not know what OOD means."""
        if self.kind == "manual":
            return "Drawn by a person; no AI model was involved."
        model = f"{self.model_name} {self.model_version or ''}".strip()
        edit = " A person corrected the result." if self.corrected else ""
        if self.ood_flag is None:
            return f"Made by the AI model {model}; its trust check was not run.{edit}"
        if self.ood_flag:
            why = "; ".join(self.ood_reasons) or "the check fired"
            return (f"Made by the AI model {model}. Caution: this image is unlike the images the "
                    f"model was checked on ({why}), so the result may be wrong.{edit}")
        return (f"Made by the AI model {model}. The image looks like those the model was "
                f"checked on; no warning was raised.{edit}")


@dataclass(frozen=True)
class Findings:
    """The lesion table of ``label`` (``label_name``), the measurements and the provenance."""

    label: int
    label_name: str
    lesions: tuple[Lesion, ...]
    connectivity: int = 26
    min_ml: float = 0.01
    measurements: tuple[Measurement, ...] = ()
    provenance: AIProvenance = field(default_factory=AIProvenance)
