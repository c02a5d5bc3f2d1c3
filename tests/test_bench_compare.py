"""``benchmarks/compare.py`` turns result rows into the table it prints and writes into the docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.compare import END, START, docs_block, merged_meta, table, write_docs


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
