"""The base of every definition model: pydantic's ``ValidationError`` becomes a :class:`DefinitionError`."""

from __future__ import annotations

import difflib
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from metaxy.exceptions import DefinitionError


class DefinitionModel(BaseModel):
    """A pydantic model whose invalid arguments raise :class:`~metaxy.exceptions.DefinitionError`.

    The message names the model, the argument and the value given; the hint says what was expected
    (``argument_hints`` per argument, else pydantic's reason). An unknown keyword argument is refused
    (a misspelled ``optinal=True`` would otherwise be ignored silently); validating stored data with
    ``model_validate`` stays lenient, so snapshots written by other versions still load.
    """

    argument_hints: ClassVar[dict[str, str]] = {}

    def __init__(self, /, **data: Any) -> None:
        unknown = sorted(set(data) - set(type(self).model_fields))
        if unknown:
            raise unknown_argument_error(type(self).__name__, unknown, sorted(type(self).model_fields))
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise definition_error(type(self).__name__, exc, self.argument_hints) from None


def definition_error(model: str, exc: ValidationError, hints: dict[str, str]) -> DefinitionError:
    """One readable :class:`DefinitionError` for the first problem pydantic found (and how many more)."""
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "arguments"
    given = first.get("input")
    more = exc.error_count() - 1
    message = f"{model}: invalid {where}={given!r}" + (f" (and {more} more problem(s))" if more else "") + "."
    reason = str(first["msg"]).removeprefix("Value error, ").replace("valid tuple", "list")
    expected = hints.get(str(first["loc"][0]) if first["loc"] else "")
    return DefinitionError(message, hint=f"{where} takes {expected}." if expected else f"{where}: {reason}.")


def unknown_argument_error(model: str, unknown: list[str], known: list[str]) -> DefinitionError:
    """The :class:`DefinitionError` for keyword arguments ``model`` does not take, with a likely spelling."""
    names = ", ".join(repr(name) for name in unknown)
    close = difflib.get_close_matches(unknown[0], known, n=1)
    guess = f"Did you mean {close[0]!r}? " if close else ""
    return DefinitionError(
        f"{model}: unknown argument(s) {names}.",
        hint=f"{guess}{model} takes {', '.join(known)}.",
    )
