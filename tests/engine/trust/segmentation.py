"""Test helper: the shipped deterministic segmentation, for tests that only need AI labels."""

from __future__ import annotations

from dataclasses import replace

from engine.trust import SEGMENTATION, AnalysisResult, analyze


def plain_segmentation(volume, model, device: str = "cpu") -> AnalysisResult:
    """``analyze(volume, model, SEGMENTATION)`` on ``device`` (all members averaged, no dropout)."""
    return analyze(volume, model, replace(SEGMENTATION, device=device))
