"""The engines stay optional: ``import metaxy`` (and every store) loads neither Ray nor Dask."""

from __future__ import annotations

import subprocess
import sys


def test_import_metaxy_loads_no_distributed_engine() -> None:
    code = (
        "import sys, metaxy, metaxy.stores, metaxy.ops, metaxy.versioning.shard\n"
        "import metaxy.integrations\n"
        "print(sorted(m for m in ('ray', 'dask', 'distributed') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
