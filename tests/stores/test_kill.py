"""A writer killed with SIGKILL in the middle of a write: nothing partial, nothing lost, no trace.

Small sizes here; ``make stress`` kills writers in the middle of 2M-row writes.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import metaxy as mx
from tests.stores._workers import context, hang_in_first_insert, race_features


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
