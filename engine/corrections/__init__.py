"""The durable, de-identified correction queue (and, on top of it, fine-tuning with safeguards)."""

from engine.corrections.queue import Correction, CorrectionQueue, ModelRef, QueueItem
from engine.corrections.stats import dice, edit_stats

__all__ = ["Correction", "CorrectionQueue", "ModelRef", "QueueItem", "dice", "edit_stats"]
