"""The care area's errors (shared by its service modules without an import circle)."""
from __future__ import annotations


class CareError(ValueError):
    """A request the rules refuse (missing reason, wrong kind...). The message is an English msgid."""


class StaleCaseError(Exception):
    """The case changed since the form was loaded: the save is refused, the caller shows the text back."""
