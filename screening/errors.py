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


class UnknownCareGroup(ValueError):
    """A care-group code the warning policy does not define (``left-behind`` for ``left_behind``): refused, since
    ignoring it would lower the student's level. ``unknown`` are the bad codes, ``valid`` the policy's codes."""

    def __init__(self, unknown: list[str], valid: tuple[str, ...]) -> None:
        self.unknown = list(unknown)
        self.valid = tuple(valid)
        bad = ", ".join(repr(u) for u in self.unknown)
        super().__init__(f"unknown care group {bad}; valid: {', '.join(self.valid)}")
