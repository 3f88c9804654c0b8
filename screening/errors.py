"""Errors raised by the screening engine."""
from __future__ import annotations


class AnswerError(ValueError):
    """A set of answers that cannot be scored: wrong item count or a value outside the item's answer set.

    ``item`` is the 1-based item number the problem is about, so that a form or the command line can point at it.
    """

    def __init__(self, item: int, message: str) -> None:
        super().__init__(message)
        self.item = item


class DefinitionError(ValueError):
    """An instrument definition or a policy file that does not match the schema.

    The message names the file and the field (``phq9.yaml: items[8].zh: required``).
    """


class UnknownInstrument(KeyError):
    """No instrument with this id is loaded."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else "unknown instrument"
