"""The embedded and SQL stores move frames as Arrow C streams between their drivers and Polars, so a
process using only them never imports pyarrow (~42 MiB of resident memory and ~0.13 s of start-up)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

#: a store's whole life in a fresh interpreter: writes, an evolving history, resolutions, reads and SQL
LIFE = """
import sys
import polars as pl
import metaxy as mx
from tests.stores.graphs import video_graph, videos

g = video_graph()
with eval(sys.argv[1]) as store:
    store.write_metadata(g.video, videos([1, 2, 3]))
    new = store.resolve_update(g.transcript).new
    store.write_metadata(g.transcript, new.with_columns(pl.lit("t").alias("text")))
    store.write_metadata(g.video, videos([3, 4], audio="b"))
    increment = store.resolve_update(g.transcript)
    rows = store.read_metadata(g.video, filters=pl.col("path") != "none").collect()
    queried = store.sql('SELECT count(*) AS n FROM "video__raw"')
print(sorted(increment.new["sample_uid"]), sorted(increment.stale["sample_uid"]), rows.height,
      queried["n"].item(), "pyarrow" in sys.modules)
"""


@pytest.mark.parametrize("kind", ["duckdb", "sqlite", "postgres"])
def test_a_store_moves_frames_without_importing_pyarrow(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    constructors = {
        "duckdb": lambda: f"mx.DuckDBMetadataStore({str(tmp_path / 'm.duckdb')!r})",
        "sqlite": lambda: f"mx.SQLAlchemyMetadataStore('sqlite:///{tmp_path / 'm.db'}')",
        "postgres": lambda: (
            f"mx.SQLAlchemyMetadataStore({request.getfixturevalue('postgres_url')!r}, "
            f"table_prefix={tmp_path.name.lower()[:20] + '_'!r})"
        ),
    }
    run = subprocess.run(
        [sys.executable, "-c", LIFE, constructors[kind]()],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["[4]", "[3]", "4", "4", "False"]
