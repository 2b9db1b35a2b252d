"""Errors the engine raises on purpose: each carries a message meant for a person.

The CLI prints ``error: <message>`` and exits with code 2; the viewer shows the message in a dialog.
Anything else that escapes is a bug, reported as such (without patient data).
"""


class CandorError(Exception):
    """Base class of every error whose message is written for the user."""


class InputError(CandorError):
    """The input (a file, a folder, a series, an argument) cannot be used as given."""


class UnsupportedError(CandorError):
    """The input is valid but needs something Candor does not have (a decoder, a format)."""


class ModelError(CandorError):
    """A model package is missing, malformed, unsafe or does not match its manifest."""


class Cancelled(CandorError):
    """The user cancelled the work."""

    def __init__(self, message: str = "cancelled by the user") -> None:
        super().__init__(message)
