"""``joined_text`` builds exactly the strings ``"|".join(parts)`` (null when a part is null), whatever
mix of literals and columns, and ``hash_joined`` hashes exactly those strings, so neither can change a
version."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from metaxy.versioning.hashing import (
    FORMAT_FROM_COLUMNS,
    SEPARATOR,
    SLICE_ROWS,
    HashAlgorithm,
    HashSettings,
    hash_joined,
    hash_text,
    joined_text,
)

TEXT = st.text(alphabet=st.sampled_from("ab|{}é "), max_size=4)


@given(
    parts=st.lists(
        st.one_of(TEXT.map(lambda t: ("lit", t)), st.integers(0, 2).map(lambda i: ("col", i))), min_size=1
    ),
    columns=st.lists(st.lists(st.one_of(st.none(), TEXT), min_size=3, max_size=3), min_size=0, max_size=5),
)
def test_joined_text_equals_the_separator_join(
    parts: list[tuple[str, object]], columns: list[list[str | None]]
) -> None:
    frame = pl.DataFrame(
        {f"c{i}": [row[i] for row in columns] for i in range(3)},
        schema=dict.fromkeys(["c0", "c1", "c2"], pl.String),
    )
    exprs = [str(v) if kind == "lit" else pl.col(f"c{v}") for kind, v in parts]
    got = frame.with_columns(joined_text(exprs).alias("t"))["t"].to_list()  # literals only: broadcast
    want = []
    for row in columns:
        values = [str(v) if kind == "lit" else row[int(str(v))] for kind, v in parts]  # type: ignore[call-overload]
        want.append(None if any(v is None for v in values) else SEPARATOR.join(str(v) for v in values))
    assert got == want


def test_literal_runs_become_one_piece_of_the_template() -> None:
    frame = pl.DataFrame({"a": ["x", None], "b": ["y", "z"]})
    expr = joined_text(["field", "1", "up.audio", pl.col("a"), "up.frames", pl.col("b")])
    assert frame.select(expr).to_series().to_list() == ["field|1|up.audio|x|up.frames|y", None]
    assert frame.select(joined_text(["only", "literals"])).item() == "only|literals"
    assert frame.select(joined_text([pl.col("b")])).to_series().to_list() == ["y", "z"]


@pytest.mark.parametrize("algorithm", list(HashAlgorithm))
@pytest.mark.parametrize("columns", [1, FORMAT_FROM_COLUMNS])
def test_hash_joined_hashes_the_separator_join_over_batches_and_slices(
    algorithm: HashAlgorithm, columns: int
) -> None:
    """``hash_joined`` gives the reference hash of the separator join, on both paths (concatenation
    below FORMAT_FROM_COLUMNS columns, the sliced template from there), over the batches of a
    streaming plan (frames of 0, 3, 0, more than two slices, and 1 rows), with a null part and with
    a broadcast scalar part.

    (The Polars panic the per-slice rechunk avoids is caught by test_increment_oracle.py: with a bare
    ``pl.format`` it fails on its first examples.)"""
    names = [f"c{i}" for i in range(columns)]
    parts: list[str | pl.Expr] = ["field", "1"]
    for name in names:
        parts += [f"up.{name}", pl.col(name).fill_null("")]
    sizes = (0, 3, 0, 2 * SLICE_ROWS + 5, 1)
    pieces = [
        pl.LazyFrame(
            {n: [None if i == 1 else f"{n}-{i}" for i in range(rows)] for n in names},
            schema=dict.fromkeys(names, pl.String),
        )
        for rows in sizes
    ]
    settings = HashSettings(algorithm, 8)
    got = hash_joined(pl.concat(pieces), {"h": parts}, settings).collect(engine="streaming")
    want = [
        hash_text(
            SEPARATOR.join(
                ["field", "1", *(v for n in names for v in (f"up.{n}", "" if i == 1 else f"{n}-{i}"))]
            ),
            settings,
        )
        for rows in sizes
        for i in range(rows)
    ]
    assert got["h"].to_list() == want
    scalar = ["k", *[pl.lit("s")] * FORMAT_FROM_COLUMNS, pl.col("a")]
    one = hash_joined(pl.DataFrame({"a": ["x", "y"]}), {"h": scalar}, settings)
    assert one["h"].to_list() == [
        hash_text(SEPARATOR.join(["k", *["s"] * FORMAT_FROM_COLUMNS, v]), settings) for v in "xy"
    ]
