"""``joined_text`` builds exactly the strings ``"|".join(parts)`` (null when a part is null), whatever
mix of literals and columns, so hashing it cannot change a version."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from metaxy.versioning.hashing import SEPARATOR, joined_text

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
