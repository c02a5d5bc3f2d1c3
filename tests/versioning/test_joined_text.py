"""``joined_text`` builds exactly the strings ``"|".join(parts)`` (null when a part is null), whatever
mix of literals and columns, so hashing it cannot change a version."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from metaxy.versioning.hashing import FORMAT_FROM_COLUMNS, SEPARATOR, joined_text

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


def test_many_columns_are_formatted_per_batch_in_the_streaming_engine() -> None:
    """From FORMAT_FROM_COLUMNS columns on, the template path gives the separator join over the batches
    of a streaming plan (frames of 0, 3, 0, 5000 and 1 rows) and with a broadcast scalar part.

    (The Polars panic the per-batch rechunk avoids is caught by test_increment_oracle.py: with a bare
    ``pl.format`` it fails on its first examples.)"""
    names = [f"c{i}" for i in range(FORMAT_FROM_COLUMNS)]
    parts: list[str | pl.Expr] = ["field", "1"]
    for name in names:
        parts += [f"up.{name}", pl.col(name).fill_null("")]
    pieces = [
        pl.LazyFrame(
            {n: [f"{n}-{i}" for i in range(rows)] for n in names}, schema=dict.fromkeys(names, pl.String)
        )
        for rows in (0, 3, 0, 5000, 1)
    ]
    got = pl.concat(pieces).select(joined_text(parts).alias("t")).collect(engine="streaming")
    want = [
        SEPARATOR.join(["field", "1", *(v for n in names for v in (f"up.{n}", f"{n}-{i}"))])
        for rows in (3, 5000, 1)
        for i in range(rows)
    ]
    assert got["t"].to_list() == want
    one = pl.DataFrame({"a": ["x"]}).select(
        joined_text(["k", *[pl.lit("s")] * (FORMAT_FROM_COLUMNS - 1), pl.col("a")])
    )
    assert one.item() == SEPARATOR.join(["k", *["s"] * (FORMAT_FROM_COLUMNS - 1), "x"])
