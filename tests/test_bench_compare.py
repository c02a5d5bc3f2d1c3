"""``benchmarks/compare.py`` turns result rows into the table it prints and writes into the docs; the
harnesses' shared pieces (phase processes, answer checks) behave as the comparison relies on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from benchmarks.compare import (
    END,
    REPO,
    START,
    docs_block,
    git_commit,
    merged_meta,
    table,
    targets,
    write_docs,
)
from benchmarks.data import ID, answer
from benchmarks.measure import run_phase


def row(impl: str, engine: str, seconds: float, cpu: float, peak: float, growth: float) -> dict[str, object]:
    return {
        "impl": impl,
        "engine": engine,
        "graph": "simple",
        "N": 1000,
        "phase": "new",
        "median_s": seconds,
        "median_cpu_s": cpu,
        "rounds": 3,
        "ok": True,
        "phase_peak_rss_mib": peak,
        "phase_start_rss_mib": peak - growth - 5,  # growth of one round is stored on its own
        "phase_growth_rss_mib": growth,
    }


ROWS = [
    row("metaxy==0.1.11", "delta-polars", 2.0, 3.0, 800, 200),
    row("metaxy==0.1.11", "duckdb-native", 1.0, 2.0, 600, 100),
    row("floor (polars)", "polars-xxh64", 0.5, 0.6, 400, 50),
    row("metaxy==0.2.0", "duckdb", 0.25, 0.5, 300, 40),
]


def test_each_of_our_stores_is_set_beside_the_anchors_fastest_configuration() -> None:
    lines = table(ROWS).splitlines()
    assert len(lines) == 3  # header, rule, one store
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells[3] == "1.000 (duckdb-native)"
    assert cells[7:10] == ["4.00×", "4.00×", "0.50"]  # anchor / ours in wall and CPU time, ours / floor
    assert cells[10] == "600 (+100) / 300 (+40)"
    assert cells[11:13] == ["0.50", "0.40"]  # peak and growth, ours over the anchor's


def test_the_docs_table_is_replaced_between_the_markers_only(tmp_path: Path) -> None:
    page = tmp_path / "performance.md"
    page.write_text(f"# Title\n\nprose before\n\n{START}\nold table\n{END}\n\nprose after\n")
    meta = {
        "command": "compare.py --n 1000",
        "commit": "abc",
        "started": "now",
        "load_before": "1",
        "load_after": "2",
    }
    write_docs(page, docs_block(ROWS, meta))
    text = page.read_text()
    assert "old table" not in text
    assert text.startswith("# Title\n\nprose before\n\n")
    assert text.endswith("\n\nprose after\n")
    assert "`compare.py --n 1000` (commit `abc`" in text
    assert "| duckdb |" in text
    write_docs(page, docs_block(ROWS[:2] + ROWS[3:], meta))  # a second run replaces the first
    assert text.count(START) == 1
    assert page.read_text().count("| simple |") == 1


def test_a_page_without_markers_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "performance.md"
    page.write_text("no markers here\n")
    with pytest.raises(SystemExit, match="lacks the markers"):
        write_docs(page, "table")


def test_several_runs_are_reported_as_one(tmp_path: Path) -> None:
    metas = [
        {
            "command": "compare.py --n 1000",
            "commit": "abc",
            "started": "t1",
            "load_before": "1",
            "load_after": "2",
        },
        {
            "command": "compare.py --n 9000",
            "commit": "abc",
            "started": "t2",
            "load_before": "3",
            "load_after": "4",
        },
    ]
    merged = merged_meta(metas)
    assert merged["commit"] == "abc"
    assert merged["started"] == "t1 / t2"
    block = docs_block(ROWS, merged)
    assert "`compare.py --n 1000` then `compare.py --n 9000` (commit `abc`, t1 / t2" in block
    assert merged_meta(metas[:1]) == metas[0]


def test_rows_merged_from_several_runs_are_each_set_beside_their_own_runs_anchor() -> None:
    """A faster anchor in another run changes nothing for a row whose run has an anchor of its own; a
    row whose run timed no anchor for the cell takes the fastest of the others'."""
    first = [dict(r, run=0) for r in ROWS]
    second = [
        dict(ROWS[1], run=1, median_s=0.5, median_cpu_s=1.0, phase_peak_rss_mib=500),  # a faster anchor
        dict(ROWS[2], run=1, median_s=0.4),
        dict(ROWS[3], run=1, engine="sqlite", median_s=0.25),
    ]
    third = [dict(ROWS[3], run=2, engine="delta")]  # no anchor, no floor in its run
    lines = table([*first, *second, *third]).splitlines()[2:]
    by_store = {c[5]: c for c in ([x.strip() for x in line.strip("|").split("|")] for line in lines)}
    assert (by_store["duckdb"][3], by_store["duckdb"][4], by_store["duckdb"][7]) == (
        "1.000 (duckdb-native)",
        "0.500",
        "4.00×",
    )
    assert (by_store["sqlite"][3], by_store["sqlite"][4], by_store["sqlite"][7]) == (
        "0.500 (duckdb-native)",
        "0.400",
        "2.00×",
    )
    assert by_store["delta"][3] == "0.500 (duckdb-native)"  # the fastest of the others' anchors
    assert by_store["delta"][4] == "0.500"  # the first floor of the cell


def test_phases_timed_in_their_own_process_are_compared_with_the_anchor_timed_so_only() -> None:
    own = [dict(r, own_process=True) for r in (ROWS[0], ROWS[3])]
    own[0].update(median_s=4.0, phase_peak_rss_mib=900)  # the anchor, its own process per phase
    lines = table([*ROWS, *own]).splitlines()[2:]
    assert len(lines) == 2  # one line per kind of cell, each with its own anchor; the floor joins both
    shared, separate = ([c.strip() for c in line.strip("|").split("|")] for line in lines)
    assert (shared[2], shared[3], shared[4]) == ("new", "1.000 (duckdb-native)", "0.500")
    assert (separate[2], separate[3], separate[4]) == ("new (own process)", "4.000 (delta-polars)", "0.500")
    assert separate[7] == "16.00×"


def test_the_targets_are_read_off_the_default_store_and_postgresql_misses_in_bold() -> None:
    server = dict(ROWS[3], engine="postgres", median_s=1.0, phase_peak_rss_mib=200)  # 4× DuckDB's time
    own = [dict(ROWS[1], own_process=True), dict(ROWS[3], own_process=True, median_s=0.1)]
    lines = targets([*ROWS, server, *own]).splitlines()
    assert lines[0] == "| target | N | simple `new` | simple `stale` | wide `new` | wide `stale` |"
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")] for line in lines[2:]}
    speed = rows["≥ 5× the anchor's fastest (in process / own process)"]
    assert speed[1:3] == ["1,000", "**4.00×** / 10.00×"]  # in process: the fastest anchor, 1.0 s / 0.25 s
    assert speed[3:] == ["- / -"] * 3  # cells no run timed
    assert rows["peak ≤ ½ the anchor's (in process / own process)"][2] == "0.50 / 0.50"  # 300 / 600 MiB
    assert rows["PostgreSQL's time ≤ 3× the default store's (in process / own process)"][2] == "**4.00** / -"
    assert rows["PostgreSQL's peak ≤ ½ the anchor's (in process / own process)"][2] == "0.33 / -"


def test_a_run_of_uncommitted_changes_is_marked_dirty(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        identity = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
        subprocess.run(["git", *identity, *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "code.py")
    git("commit", "-q", "-m", "first")
    commit = git_commit(tmp_path)
    assert len(commit) >= 7
    assert not commit.endswith("-dirty")
    (tmp_path / "notes.txt").write_text("untracked files are not measured code\n")
    assert git_commit(tmp_path) == commit
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == f"{commit}-dirty"


def test_a_phase_process_reports_its_sample_to_the_process_that_started_it() -> None:
    child = (
        "from benchmarks.measure import Timed, print_sample\n"
        "with Timed() as t:\n"
        "    sum(range(1000))\n"
        "print('other output')\n"
        "print_sample((t, True, 7, 0))\n"
    )
    figures, ok, new, stale = run_phase([sys.executable, "-c", child], cwd=REPO)
    assert (ok, new, stale) == (True, 7, 0)
    assert figures.seconds > 0
    assert figures.peak_mib >= figures.start_mib > 0


def test_a_phase_process_that_fails_says_why(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"printed no sample(.|\n)*store is gone"):
        run_phase([sys.executable, "-c", "raise SystemExit('store is gone')"], cwd=tmp_path)


def test_answers_are_checked_against_the_expected_increment() -> None:
    increment = SimpleNamespace(
        new=pl.DataFrame({ID: [0, 1, 2]}),
        stale=pl.DataFrame({ID: []}, schema={ID: pl.Int64}),
        orphaned=pl.DataFrame(),
    )
    assert answer("new", increment, 3) == (True, 3, 0)
    assert answer("new", increment, 4)[0] is False
    stale = SimpleNamespace(
        new=pl.DataFrame({ID: []}), stale=pl.DataFrame({ID: [5, 2]}), orphaned=pl.DataFrame()
    )
    assert answer("stale", stale, 3, np.array([2, 5])) == (True, 0, 2)
    assert answer("stale", stale, 3, np.array([2]))[0] is False


def test_bounds_prints_the_least_time_beside_a_fifth_of_the_anchor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``benchmarks/bounds.py`` measures the two kernels on a small store and reads the target off a
    results file: a fifth of the anchor's fastest ``new`` of the cell (0.5 s of 2.5 and 4 s)."""
    from benchmarks.bounds import main as bounds

    results = tmp_path / "compare.jsonl"
    anchors = [
        row("metaxy==0.1.11", e, s, s, 300, 100) for e, s in (("delta-polars", 2.5), ("duckdb-native", 4.0))
    ]
    results.write_text("".join(json.dumps(a) + "\n" for a in anchors))
    assert bounds(["--n", "1000", "--graph", "simple", "--rounds", "1", "--from", str(results)]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    cells = [c.strip() for c in line.strip("|").split("|")]
    graph, n, cores, read, hashed, least, _ours, goal, over = cells
    assert (graph, n, goal) == ("simple", "1,000", "0.500")
    assert float(least) == pytest.approx((float(read) + float(hashed)) / int(cores), abs=0.002)
    assert float(over) == pytest.approx(float(least) / 0.5, abs=0.01)
