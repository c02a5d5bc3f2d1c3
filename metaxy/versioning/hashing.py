"""The sample-level hash recipe (docs/concepts.md#hashes) in one place: algorithms, rendering, truncation.

Two implementations of the same recipe live here: :func:`hash_text` (pure Python, for in-process UDFs
and test oracles) and :func:`hash_expr` (a Polars expression via ``polars-hash``). SQL dialects mirror
it and are checked against it by golden tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any, TypeVar

import polars as pl
import polars_hash  # noqa: F401  (registers the .nchash / .chash expression namespaces)
import xxhash

from metaxy.constants import DEFAULT_HASH_ALGORITHM, DEFAULT_HASH_TRUNCATION, MIN_HASH_TRUNCATION
from metaxy.exceptions import VersioningError
from metaxy.models.plan import FieldPlan, ParentField

SEPARATOR = "|"
T = TypeVar("T")


class HashAlgorithm(StrEnum):
    """Hash functions for sample-level versions. xxhash renders as decimal, md5/sha256 as hex."""

    XXHASH32 = "xxhash32"
    XXHASH64 = "xxhash64"
    MD5 = "md5"
    SHA256 = "sha256"

    @classmethod
    def coerce(cls, value: HashAlgorithm | str) -> HashAlgorithm:
        try:
            return cls(str(value).lower())
        except ValueError:
            raise VersioningError(
                f"Unknown hash algorithm {value!r}.",
                hint="Use one of: " + ", ".join(a.value for a in cls) + ".",
            ) from None


class HashSettings:
    """A hash algorithm plus the truncation applied to every rendered hash."""

    __slots__ = ("algorithm", "truncation")

    def __init__(
        self,
        algorithm: HashAlgorithm | str = DEFAULT_HASH_ALGORITHM,
        truncation: int | None = DEFAULT_HASH_TRUNCATION,
    ) -> None:
        if truncation is not None and (not isinstance(truncation, int) or truncation < MIN_HASH_TRUNCATION):
            raise VersioningError(
                f"hash_truncation_length={truncation!r} is too short.",
                hint=f"Use at least {MIN_HASH_TRUNCATION} characters (or None for the full hash).",
            )
        self.algorithm = HashAlgorithm.coerce(algorithm)
        self.truncation = truncation

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HashSettings):
            return NotImplemented
        return (self.algorithm, self.truncation) == (other.algorithm, other.truncation)

    def __hash__(self) -> int:
        return hash((self.algorithm, self.truncation))

    def __repr__(self) -> str:
        return f"HashSettings({self.algorithm.value!r}, truncation={self.truncation})"


_PY_HASHERS: dict[HashAlgorithm, Callable[[bytes], str]] = {
    HashAlgorithm.XXHASH32: lambda b: str(xxhash.xxh32_intdigest(b, seed=0)),
    HashAlgorithm.XXHASH64: lambda b: str(xxhash.xxh64_intdigest(b, seed=0)),
    HashAlgorithm.MD5: lambda b: hashlib.md5(b).hexdigest(),
    HashAlgorithm.SHA256: lambda b: hashlib.sha256(b).hexdigest(),
}


def hash_text(text: str, settings: HashSettings) -> str:
    """Hash one string (UTF-8, seed 0), render it and truncate it: the reference implementation."""
    rendered = _PY_HASHERS[settings.algorithm](text.encode())
    return rendered if settings.truncation is None else rendered[: settings.truncation]


#: the longest string each algorithm renders (xxhash as decimal, md5/sha256 as hex)
_RENDERED_LENGTH = {
    HashAlgorithm.XXHASH32: 10,
    HashAlgorithm.XXHASH64: 20,
    HashAlgorithm.MD5: 32,
    HashAlgorithm.SHA256: 64,
}
#: strings up to this many bytes live inside a Polars (Arrow) string view, without a data buffer
_INLINE_STRING_BYTES = 12


def hash_expr(expr: pl.Expr, settings: HashSettings) -> pl.Expr:
    """The Polars equivalent of :func:`hash_text` for a string expression."""
    algorithm = settings.algorithm
    ns: Any = expr
    if algorithm is HashAlgorithm.XXHASH32:
        rendered = ns.nchash.xxhash32().cast(pl.String)
    elif algorithm is HashAlgorithm.XXHASH64:
        rendered = ns.nchash.xxhash64().cast(pl.String)
    elif algorithm is HashAlgorithm.MD5:
        rendered = ns.nchash.md5()
    else:
        rendered = ns.chash.sha2_256()
    assert isinstance(rendered, pl.Expr)
    if settings.truncation is None:
        return rendered
    truncated = rendered.str.slice(0, settings.truncation)
    if _RENDERED_LENGTH[algorithm] <= _INLINE_STRING_BYTES:
        return truncated
    # Polars cuts strings without copying them: the cut column keeps the whole rendered hashes alive
    # beneath it (10M xxhash64 hashes cut to 8 characters held 338 MiB instead of 153, for as long as
    # the caller holds the result). A concatenation writes what is kept into a column of its own, for
    # ~10 ns per row (10M rows: 0.32 -> 0.43 s CPU; the 10M wide benchmark peaked 610 MiB lower).
    return pl.concat_str([truncated, pl.lit("")])


#: from this many column parts on, :func:`joined_text` builds its strings with ``pl.format`` (measured on
#: a 1M-sample resolution in memory: eight columns 0.72 -> 0.61 s wall, 1.36 -> 1.05 s CPU; two columns
#: no faster, the per-batch call costing what the template saves)
FORMAT_FROM_COLUMNS = 4


def joined_text(parts: Sequence[str | pl.Expr]) -> pl.Expr:
    """``parts`` (literal strings and string expressions) joined with ``"|"``; null if any part is null.

    The same strings as ``pl.concat_str([...], separator="|")`` with each literal a ``pl.lit``, built
    one of two faster ways. Each run of literals and the separators around it goes in as one literal
    piece: concatenation copies a broadcast literal column per piece, so fewer pieces build the
    strings faster (1M rows of a six-part field recipe: 45-55 vs 85-95 ms CPU). With many columns,
    ``pl.format`` with the literals in its template is faster still (see :func:`_formatted`).
    """
    columns = [p for p in parts if isinstance(p, pl.Expr)]
    if len(columns) >= FORMAT_FROM_COLUMNS and not any(
        isinstance(p, str) and _BRACES & set(p) for p in parts
    ):
        return _formatted(SEPARATOR.join("{}" if isinstance(p, pl.Expr) else p for p in parts), columns)
    pieces: list[pl.Expr] = []
    text = ""
    for i, part in enumerate(parts):
        if i:
            text += SEPARATOR
        if isinstance(part, str):
            text += part
            continue
        if text:
            pieces.append(pl.lit(text))
            text = ""
        pieces.append(part)
    if text or not pieces:
        pieces.append(pl.lit(text))
    return pl.concat_str(pieces) if len(pieces) > 1 else pieces[0].cast(pl.String)


_BRACES = {"{", "}"}


def _formatted(template: str, columns: list[pl.Expr]) -> pl.Expr:
    """``pl.format(template, *columns)``, run on each batch after rechunking it.

    Polars 2.1's ``pl.format`` reads past the end of an empty chunk (a panic, ``i < self.len()``),
    and the streaming engine hands it batches whose columns have empty chunks. Each batch is therefore
    rechunked into one frame first, in a per-batch function: Polars calls it once per batch of rows,
    in the streaming engine as well.
    """
    names = [f"_{i}" for i in range(len(columns))]

    def build(batch: Sequence[pl.Series]) -> pl.Series:
        height = max(len(s) for s in batch)
        frame = pl.DataFrame(
            [
                (s if len(s) == height else s.new_from_index(0, height)).alias(n)
                for s, n in zip(batch, names, strict=True)
            ]
        )
        return frame.rechunk().select(pl.format(template, *names)).to_series()

    return pl.map_batches(columns, build, return_dtype=pl.String, is_elementwise=True)


def field_hash_parts(
    field: FieldPlan, literal: Callable[[str], T], parent_value: Callable[[ParentField], T]
) -> list[T]:
    """The pieces joined with ``"|"`` and hashed for one field's provenance.

    ``field key | code version | <upstream feature>.<upstream field> | <its data version> | ...``,
    parents sorted by that label. Engines pass their own ``literal`` and ``parent_value`` builders.
    """
    parts = [literal(field.key.to_string()), literal(field.code_version)]
    for parent in field.parents:
        parts += [literal(parent.label), parent_value(parent)]
    return parts


def combine_text(values: Sequence[str], settings: HashSettings) -> str:
    """Sample-level hash of per-field versions (already in field-key order)."""
    return hash_text(SEPARATOR.join(values), settings)
