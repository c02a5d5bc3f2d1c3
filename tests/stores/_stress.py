"""Sizes of the concurrency and kill -9 probes, the stores they run on, and the figures they report.

Sizes come from ``METAXY_STRESS_*`` environment variables: ``make stress`` sets the full sizes, ``make test``
leaves them unset and the small defaults below apply. With ``METAXY_STRESS_REPORT`` set to a file, each
probe appends one JSON line of figures to it (``python -m tests.stores._stress <file>`` prints the table).
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.servers import S3Server
from tests.stores._workers import StoreSpec

#: small sizes for ``make test``; the full ones live in the Makefile's ``stress`` target
SMALL = {
    "WRITERS": 3,  # writer processes appending together
    "APPENDS": 10,  # appends per writer
    "APPEND_ROWS": 5,  # rows per append
    "KILL_ROWS": 5_000,  # rows of the write a SIGKILL interrupts
    "KILL_ROUNDS": 1,  # kills per store and scenario
    "THREADS": 3,  # threads sharing one store object
    "THREAD_APPENDS": 4,  # appends per thread
}


def size(name: str) -> int:
    """``METAXY_STRESS_<name>`` when set, else the small default."""
    return int(os.environ.get(f"METAXY_STRESS_{name}", SMALL[name]))


def report(probe: str, store: str, **figures: Any) -> None:
    """Append one line of figures for ``make stress`` to print (nothing when no report file is set)."""
    target = os.environ.get("METAXY_STRESS_REPORT")
    if not target:
        return
    line = json.dumps({"probe": probe, "store": store, **figures}, sort_keys=True)
    with open(target, "a", encoding="utf-8") as handle:  # one short write per line: safe across workers
        handle.write(line + "\n")


def store_spec(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    """A recipe every process of a probe builds its own store of ``kind`` from."""
    if kind == "sqlite":
        return StoreSpec("SQLAlchemyMetadataStore", (f"sqlite:///{tmp_path / 'meta.db'}",))
    if kind == "postgres":
        url = request.getfixturevalue("postgres_url")
        return StoreSpec("SQLAlchemyMetadataStore", (url,), {"table_prefix": f"c{uuid.uuid4().hex[:10]}_"})
    if kind == "delta":
        return StoreSpec("DeltaMetadataStore", (str(tmp_path / "delta"),))
    if kind == "delta-s3":
        server: S3Server = request.getfixturevalue("s3_server")
        uri = f"s3://{server.bucket}/stress-{uuid.uuid4().hex[:10]}"
        return StoreSpec("DeltaMetadataStore", (uri,), {"storage_options": server.storage_options()})
    if kind == "clickhouse":
        # a data directory of its own: the test process may run chdb on another one
        return StoreSpec("ClickHouseMetadataStore", (f"chdb://{tmp_path / 'chdb'}",), reopen=True)
    if kind == "duckdb":
        return StoreSpec("DuckDBMetadataStore", (str(tmp_path / "meta.duckdb"),), reopen=True)
    raise ValueError(f"unknown store kind {kind!r}")


def summary(path: Path) -> str:
    """The report file as one table per probe: figures summed over the lines of each store."""
    rows: dict[str, dict[str, dict[str, float]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(float))
    )
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        probe, store = entry.pop("probe"), entry.pop("store")
        for name, value in entry.items():
            rows[probe][store][name] += value
    out: list[str] = []
    for probe, stores in sorted(rows.items()):
        names = sorted({n for figures in stores.values() for n in figures})
        out.append(f"\n{probe}")
        out.append("  " + f"{'store':<28}" + "".join(f"{n:>16}" for n in names))
        for store, figures in sorted(stores.items()):
            cells = "".join(f"{_shown(figures.get(n, 0)):>16}" for n in names)
            out.append("  " + f"{store:<28}" + cells)
    return "\n".join(out)


def _shown(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


if __name__ == "__main__":
    print(summary(Path(sys.argv[1])))
