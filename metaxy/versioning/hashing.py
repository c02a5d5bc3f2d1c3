"""The sample-level hash recipe (docs/concepts.md#hashes) in one place: algorithms, rendering, truncation.

Two implementations of the same recipe live here: :func:`hash_text` (pure Python, for in-process UDFs
and test oracles) and :func:`hash_columns` (Polars, via ``polars-hash``). SQL dialects mirror
it and are checked against it by golden tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any, TypeVar, cast

import polars as pl
import polars_hash  # noqa: F401  (registers the .nchash / .chash expression namespaces)
import xxhash

from metaxy.constants import DEFAULT_HASH_ALGORITHM, DEFAULT_HASH_TRUNCATION, MIN_HASH_TRUNCATION
from metaxy.exceptions import VersioningError
from metaxy.models.plan import FieldPlan, ParentField

SEPARATOR = "|"
T = TypeVar("T")
FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)


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


def hash_columns(frame: FrameT, texts: Mapping[str, pl.Expr], settings: HashSettings) -> FrameT:
    """``frame`` with one column per entry of ``texts``: the hash of that string expression, rendered
    and truncated (the Polars equivalent of :func:`hash_text`), under the entry's name."""
    hashed = frame.with_columns(_hashed(text, settings.algorithm).alias(name) for name, text in texts.items())
    return rendered(hashed, list(texts), settings)


def hash_joined(
    frame: FrameT, parts: Mapping[str, Sequence[str | pl.Expr]], settings: HashSettings
) -> FrameT:
    """``frame`` with one column per entry of ``parts``: the hash of those parts (literal strings and
    string expressions) joined with ``"|"``, rendered and truncated, under the entry's name.

    The same values as :func:`hash_columns` of ``joined_text(parts)``; long recipes are joined and
    hashed a slice of rows at a time (see :func:`_joined_hash`), so their strings never all exist at once.
    """
    hashed = frame.with_columns(_joined_hash(p, settings.algorithm).alias(name) for name, p in parts.items())
    return rendered(hashed, list(parts), settings)


def _hashed(text: pl.Expr, algorithm: HashAlgorithm) -> pl.Expr:
    """The hash of each string: unsigned integers for xxhash, hex strings for md5 and sha256."""
    ns: Any = text
    if algorithm is HashAlgorithm.XXHASH32:
        return cast(pl.Expr, ns.nchash.xxhash32())
    if algorithm is HashAlgorithm.XXHASH64:
        return cast(pl.Expr, ns.nchash.xxhash64())
    return cast(pl.Expr, ns.nchash.md5() if algorithm is HashAlgorithm.MD5 else ns.chash.sha2_256())


def rendered(frame: FrameT, names: Sequence[str], settings: HashSettings) -> FrameT:
    """``frame`` with its hash columns ``names`` (as :func:`_hashed` computes them) rendered as strings
    and cut to the truncation, one step per ``with_columns``.

    Each step reads the column the step before wrote: the steps of a truncated xxhash name their
    input three times each, which costs nothing from a column, while a repeated expression is computed
    again wherever Polars does not share it (an eager ``select``, nested hashes: measured 3x slower).
    """
    for step in _render_steps(settings):
        frame = frame.with_columns(step(pl.col(name)).alias(name) for name in names)
    return frame


def _render_steps(settings: HashSettings) -> list[Callable[[pl.Expr], pl.Expr]]:
    algorithm, truncation = settings.algorithm, settings.truncation
    length = _RENDERED_LENGTH[algorithm]
    if algorithm in (HashAlgorithm.XXHASH32, HashAlgorithm.XXHASH64):
        cuts = [] if truncation is None or truncation >= length else _decimal_cuts(length, truncation)
        return [*cuts, lambda hashed: hashed.cast(pl.String)]
    if truncation is None or truncation >= length:
        return []
    if length <= _INLINE_STRING_BYTES:
        return [lambda hashed: hashed.str.slice(0, truncation)]
    # Polars cuts strings without copying them: the cut column keeps the whole rendered hashes alive
    # beneath it (10M hashes cut to 8 characters held 338 MiB instead of 153, for as long as the
    # caller holds the result). A concatenation writes what is kept into a column of its own.
    return [lambda hashed: pl.concat_str([hashed.str.slice(0, truncation), pl.lit("")])]


def _decimal_cuts(digits: int, truncation: int) -> list[Callable[[pl.Expr], pl.Expr]]:
    """Steps taking unsigned integers of at most ``digits`` decimal digits to their first
    ``truncation`` digits, as numbers: rendered, they are the renderings of the whole values, cut.

    A value of ``d > truncation`` digits loses its last ``d - truncation`` digits by integer division,
    in steps of 8, 4, 2 and 1 digits (as many as ``digits - truncation`` needs), each taken when the
    value still has that many digits too many. Only the kept digits are then rendered, into strings
    short enough to live inside their views: no long rendering to cut, no copy to free it (10M
    samples of the simple benchmark graph: 2.37 -> 2.13 s CPU).
    """
    largest = 1 << ((digits - truncation).bit_length() - 1)
    return [_cut_by(largest >> i, truncation) for i in range(largest.bit_length())]


def _cut_by(size: int, truncation: int) -> Callable[[pl.Expr], pl.Expr]:
    """The step dropping ``size`` digits of values that have at least ``truncation + size``."""

    def cut(hashed: pl.Expr) -> pl.Expr:
        too_long = hashed >= pl.lit(10 ** (truncation + size - 1), pl.UInt64)
        return pl.when(too_long).then(hashed // pl.lit(10**size, pl.UInt64)).otherwise(hashed)

    return cut


#: from this many column parts on, :func:`hash_joined` builds its strings with ``pl.format`` (measured on
#: a 1M-sample resolution in memory: eight columns 0.72 -> 0.61 s wall, 1.36 -> 1.05 s CPU; two columns
#: no faster, the per-batch call costing what the template saves)
FORMAT_FROM_COLUMNS = 4
#: rows joined and hashed at once on the ``pl.format`` path. The default streaming batch (100k rows)
#: held ~33 MiB of strings per wide recipe per thread; 16k rows, measured on the 1M wide benchmark
#: resolution: peak 565-574 -> 475-497 MiB, and faster (0.82-0.83 -> 0.74-0.77 s; 4k and 8k rows:
#: 0.77-0.83 s, 32k: 0.76-0.82 s), probably as a slice's strings stay in the processor's caches
SLICE_ROWS = 16_384


def joined_text(parts: Sequence[str | pl.Expr]) -> pl.Expr:
    """``parts`` (literal strings and string expressions) joined with ``"|"``; null if any part is null.

    The same strings as ``pl.concat_str([...], separator="|")`` with each literal a ``pl.lit``, built
    faster: each run of literals and the separators around it goes in as one literal piece, and
    concatenation copies a broadcast literal column per piece, so fewer pieces build the strings faster
    (1M rows of a six-part field recipe: 45-55 vs 85-95 ms CPU).
    """
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
_HASH_DTYPES = {
    HashAlgorithm.XXHASH32: pl.UInt32,
    HashAlgorithm.XXHASH64: pl.UInt64,
    HashAlgorithm.MD5: pl.String,
    HashAlgorithm.SHA256: pl.String,
}


def _joined_hash(parts: Sequence[str | pl.Expr], algorithm: HashAlgorithm) -> pl.Expr:
    """The hash (as :func:`_hashed` gives it) of ``joined_text(parts)``.

    From :data:`FORMAT_FROM_COLUMNS` columns on, the strings are built by ``pl.format`` with the
    literals in its template, in a per-batch function (Polars calls it once per batch of rows, in the
    streaming engine too) that joins and hashes :data:`SLICE_ROWS` rows at a time. Each slice is
    rechunked first: Polars 2.1's ``pl.format`` reads past the end of an empty chunk (a panic,
    ``i < self.len()``), and the streaming engine hands out batches whose columns have empty chunks.
    """
    columns = [p for p in parts if isinstance(p, pl.Expr)]
    if len(columns) < FORMAT_FROM_COLUMNS or any(isinstance(p, str) and _BRACES & set(p) for p in parts):
        return _hashed(joined_text(parts), algorithm)
    names = [f"_{i}" for i in range(len(columns))]
    template = SEPARATOR.join("{}" if isinstance(p, pl.Expr) else p for p in parts)
    hashed = _hashed(pl.format(template, *names), algorithm)

    def build(batch: Sequence[pl.Series]) -> pl.Series:
        height = max(len(s) for s in batch)
        frame = pl.DataFrame(
            [
                (s if len(s) == height else s.new_from_index(0, height)).alias(n)
                for s, n in zip(batch, names, strict=True)
            ]
        )
        slices = [
            frame.slice(start, SLICE_ROWS).rechunk().select(hashed).to_series()
            for start in range(0, max(height, 1), SLICE_ROWS)
        ]
        return pl.concat(slices) if len(slices) > 1 else slices[0]

    return pl.map_batches(columns, build, return_dtype=_HASH_DTYPES[algorithm], is_elementwise=True)


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
