"""Candor's desktop viewer.

``viewer.state`` holds pure-Python, evented viewer state (no Qt); ``viewer.qt`` holds the PySide6
widgets that bind to it. The viewer reaches the engine through ``engine.jobs`` only for long work.
"""
