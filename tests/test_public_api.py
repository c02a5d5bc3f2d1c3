"""The public facade: sorted, complete, importable with the core dependencies only."""

from __future__ import annotations

import subprocess
import sys

import metaxy as mx


def test_all_is_sorted_and_every_name_exists() -> None:
    assert list(mx.__all__) == sorted(mx.__all__)
    for name in mx.__all__:
        assert hasattr(mx, name), name


def test_import_does_not_load_any_driver() -> None:
    code = "import sys, metaxy; print(sorted(m for m in ('duckdb','deltalake','chdb','clickhouse_connect','sqlalchemy','psycopg') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
