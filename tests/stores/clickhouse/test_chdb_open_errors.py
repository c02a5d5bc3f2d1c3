"""chdb open errors say what is actually wrong: another process holds the directory, or this one runs another."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HOLDER = """
import sys, metaxy as mx
with mx.ClickHouseMetadataStore("chdb://" + sys.argv[1]) as store:
    store.list_features()
    print("ready", flush=True)
    sys.stdin.readline()
"""

OPENER = """
import sys, pickle, metaxy as mx
from metaxy.exceptions import StoreBackendError
try:
    mx.ClickHouseMetadataStore("chdb://" + sys.argv[1]).open()
except StoreBackendError as exc:
    print(exc.transient)
    print(exc)
"""


def _python(code: str, *args: str, **options: object) -> subprocess.Popen[str]:
    root = Path(__file__).parents[3]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=root, env=env, text=True, **options)  # type: ignore[call-overload,no-any-return]


def test_a_directory_held_by_another_process_names_the_process_not_a_directory(tmp_path: Path) -> None:
    data = str(tmp_path / "chdb")
    holder = _python(HOLDER, data, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        opener = _python(OPENER, data, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out, _ = opener.communicate(timeout=120)
    finally:
        holder.communicate(input="\n", timeout=120)
    transient, message, hint = out.splitlines()[:3]
    assert f"another process (PID {holder.pid}) has it open" in message
    assert transient == "True"
    assert "one process at a time" in hint
    assert "use that directory" not in hint


def test_a_second_directory_in_one_process_names_the_open_one(tmp_path: Path) -> None:
    code = OPENER.replace("try:", 'mx.ClickHouseMetadataStore("chdb://" + sys.argv[2]).open()\ntry:')
    opener = _python(
        code, str(tmp_path / "b"), str(tmp_path / "a"), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    out, _ = opener.communicate(timeout=120)
    transient, message, hint = out.splitlines()[:3]
    assert f"this process already runs chdb on {tmp_path / 'a'}" in message
    assert transient == "False"
    assert "separate stores with database=" in hint
