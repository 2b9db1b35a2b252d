"""Candor's own fuzz suite: seeded mutations of real files, driven through the public loader API
in worker processes with a time and memory limit (docs/RELIABILITY.md)."""
