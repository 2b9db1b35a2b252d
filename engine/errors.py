"""Errors the engine raises on purpose: each carries a message meant for a person.

The CLI prints ``error: <message>`` and exits with code 2 (3 for :class:`Unsuitable`); the viewer
shows the message in a dialog.
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


class Unsuitable(CandorError):
    """A hard input check says the model was not made for this scan; nothing was run.

    ``reasons`` are the fired checks' sentences. The CLI exits with :attr:`exit_code` (3) unless
    the user forces the run; the viewer asks before running."""

    exit_code = 3

    def __init__(self, model_name: str, reasons: list[str], hint: str = "") -> None:
        self.model_name, self.reasons = model_name, list(reasons)
        super().__init__(f"{model_name} was not made for this scan: {'; '.join(self.reasons)}. "
                         "Nothing was run" + (f"; {hint}" if hint else ""))


class Cancelled(CandorError):
    """The user cancelled the work."""

    def __init__(self, message: str = "cancelled by the user") -> None:
        super().__init__(message)
