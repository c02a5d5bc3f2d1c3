"""A writer killed with SIGKILL in the middle of a write: nothing partial, nothing lost, no trace.

Every store that keeps data across processes, two scenarios: the killed write is a feature's first write
(its table is being created) or an append to rows written before. A fresh process then checks that the
killed write's rows are all there or none, the earlier rows are intact, ``list_features`` and
``has_feature`` agree and the store still takes writes. Small sizes here; ``make stress`` kills writers
in the middle of 2M-row writes, several times per store (``METAXY_STRESS_KILL_ROWS``/``_ROUNDS``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

import metaxy as mx
from tests.stores._stress import report, size, store_spec
from tests.stores._workers import (
    StoreSpec,
    context,
    hang_in_first_insert,
    inspect_after_kill,
    race_features,
    write_until_killed,
)

KILLED_STORES = ["sqlite", "postgres", "duckdb", "delta", "delta-s3", "clickhouse"]
#: where in the killed write the kill lands, as a fraction of the time the same-size earlier write took
FRACTIONS = (0.5, 0.2, 0.8, 0.35, 0.65)


def _kill_during_write(spec: StoreSpec, scenario: str, rows: int, fraction: float) -> str:
    """Run a writer, SIGKILL it ``fraction`` of the way through its second write; say where it landed."""
    ctx = context()
    started, done, seconds = ctx.Event(), ctx.Event(), ctx.Value("d", 0.0)
    writer = ctx.Process(target=write_until_killed, args=(spec, scenario, rows, started, done, seconds))
    writer.start()
    try:
        assert started.wait(timeout=900), (
            f"the writer never started its second write (exit {writer.exitcode})"
        )
        time.sleep(fraction * seconds.value)  # aim inside the write, not a wait for a result
    finally:
        assert writer.pid is not None
        with contextlib.suppress(ProcessLookupError):  # the write may have finished and the writer exited
            os.kill(writer.pid, signal.SIGKILL)
        writer.join(timeout=120)
    assert writer.exitcode in (0, -signal.SIGKILL), f"the writer failed on its own (exit {writer.exitcode})"
    return "after" if done.is_set() else "mid"


def _inspect(spec: StoreSpec, scenario: str, rows: int) -> dict[str, Any]:
    ctx = context()
    results = ctx.Queue()
    inspector = ctx.Process(target=inspect_after_kill, args=(spec, scenario, rows, results))
    inspector.start()
    figures: dict[str, Any] = results.get(timeout=900)
    inspector.join(timeout=120)
    assert inspector.exitcode == 0
    return figures


@pytest.mark.stress
@pytest.mark.parametrize("scenario", ["first", "append"])
@pytest.mark.parametrize("kind", KILLED_STORES)
def test_a_write_killed_midway_leaves_all_its_rows_or_none(
    kind: str, scenario: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    rows, rounds = size("KILL_ROWS"), size("KILL_ROUNDS")
    landed = {"mid": 0, "after": 0}
    for round_ in range(rounds):
        (tmp_path / f"round{round_}").mkdir()
        spec = store_spec(kind, request, tmp_path / f"round{round_}")
        landing = _kill_during_write(spec, scenario, rows, FRACTIONS[round_ % len(FRACTIONS)])
        landed[landing] += 1
        figures = _inspect(spec, scenario, rows)
        killed = figures["killed_rows"]
        report(
            "kill -9",
            f"{kind}/{scenario}",
            rounds=1,
            landed_mid=int(landing == "mid"),
            landed_after=int(landing == "after"),
            kept_all=int(killed == rows),
            kept_none=int(killed == 0),
            partial=int(0 < killed < rows),
            earlier_lost=rows - figures["earlier_rows"],
        )
        assert killed in (0, rows), f"{killed} of {rows} rows of the killed write are stored (round {round_})"
        assert figures["killed_unique"] == killed
        assert figures["earlier_exact"], f"earlier write damaged: {figures['earlier_rows']} of {rows} rows"
        if landing == "after":
            assert killed == rows, "a write that returned before the kill is gone"
        has_rows = scenario == "append" or killed > 0
        assert figures["has_feature"] == has_rows, figures
        assert figures["listed"] == has_rows, figures
        assert figures["rows_after_extra_write"] == figures["expected_after_extra_write"], figures


def test_a_first_write_killed_mid_insert_leaves_no_table_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    ctx = context()
    inserting = ctx.Event()
    writer = ctx.Process(target=hang_in_first_insert, args=(url, 100, inserting))
    writer.start()
    try:
        assert inserting.wait(timeout=120), "the writer never reached its INSERT"
    finally:
        assert writer.pid is not None
        os.kill(writer.pid, signal.SIGKILL)
        writer.join(timeout=60)
    (feature,) = race_features(1)
    with mx.SQLAlchemyMetadataStore(url) as store:
        assert store.list_features() == []
        assert not store.has_feature(feature)
