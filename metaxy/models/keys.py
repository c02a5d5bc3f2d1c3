"""Hierarchical keys: ``FeatureKey`` ("video/raw") and ``FieldKey`` ("audio/french")."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Self

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from metaxy.exceptions import InvalidKeyError

_PART = re.compile(r"^[a-z_][a-z0-9_-]*$")


class _Key:
    """A validated, immutable, hashable sequence of key parts."""

    __slots__ = ("_parts",)
    kind: ClassVar[str] = "key"
    _parts: tuple[str, ...]

    def __init__(self, key: str | Iterable[str] | _Key) -> None:
        parts = _split(key, self.kind)
        for part in parts:
            _check_part(part, parts, self.kind)
        object.__setattr__(self, "_parts", parts)

    @classmethod
    def coerce(cls, key: str | Iterable[str] | _Key) -> Self:
        return key if isinstance(key, cls) else cls(key)

    @property
    def parts(self) -> tuple[str, ...]:
        return self._parts

    def to_string(self) -> str:
        """Parts joined with ``/``: the form used in hashes and messages."""
        return "/".join(self._parts)

    def to_struct_name(self) -> str:
        """Parts joined with ``_``: the struct field name inside ``*_by_field`` columns."""
        return "_".join(self._parts)

    def to_table_name(self) -> str:
        """Parts joined with ``__`` and ``-`` made ``_``: the SQL table name."""
        return "__".join(self._parts).replace("-", "_")

    def __str__(self) -> str:
        return self.to_string()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_string()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, type(self)):
            return self._parts == other._parts
        if isinstance(other, str):
            return self.to_string() == other
        return NotImplemented

    def __lt__(self, other: _Key) -> bool:
        return self.to_string() < other.to_string()

    def __hash__(self) -> int:
        return hash(self.to_string())  # equal to its string form, so it hashes like it

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._parts,))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.coerce,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda key: key.to_string()),
        )


class FeatureKey(_Key):
    """Name of a feature: ``FeatureKey("video/raw") == FeatureKey(["video", "raw"])``."""

    __slots__ = ()
    kind = "feature key"


class FieldKey(_Key):
    """Name of a field inside a feature: ``FieldKey("audio")``, ``FieldKey("audio/french")``."""

    __slots__ = ()
    kind = "field key"


def _split(key: str | Iterable[str] | _Key, kind: str) -> tuple[str, ...]:
    if isinstance(key, _Key):
        return key.parts
    if isinstance(key, str):
        parts: Sequence[str] = key.split("/")
    elif isinstance(key, Iterable):
        parts = list(key)
        if not all(isinstance(p, str) for p in parts):
            raise InvalidKeyError(
                f"Invalid {kind} {parts!r}: every part must be a string.",
                hint='Write the key as "a/b" or ["a", "b"].',
            )
    else:
        raise InvalidKeyError(
            f"Invalid {kind} {key!r}: expected a string or a list of strings.",
            hint='Write the key as "a/b" or ["a", "b"].',
        )
    if not parts or parts == [""]:
        raise InvalidKeyError(f"Invalid {kind}: it is empty.", hint='Give a name such as "video/raw".')
    return tuple(parts)


def _check_part(part: str, parts: tuple[str, ...], kind: str) -> None:
    shown = "/".join(parts)
    if part == "":
        raise InvalidKeyError(
            f"Invalid {kind} {shown!r}: it has an empty part.",
            hint="Remove leading, trailing or doubled '/'.",
        )
    if "/" in part or "__" in part:
        raise InvalidKeyError(
            f"Invalid {kind} {shown!r}: part {part!r} contains '/' or '__'.",
            hint="'__' is reserved as the table-name separator; use a single '_' or split the part.",
        )
    if not _PART.match(part):
        raise InvalidKeyError(
            f"Invalid {kind} {shown!r}: part {part!r} must be lowercase [a-z0-9_-] and start with a letter or '_'.",
            hint=f"Try {re.sub(r'[^a-z0-9_-]', '_', part.lower())!r}.",
        )


CoercibleToFeatureKey = str | Sequence[str] | FeatureKey
CoercibleToFieldKey = str | Sequence[str] | FieldKey
