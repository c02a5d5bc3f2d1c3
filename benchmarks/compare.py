"""Side by side: Metaxy 0.1.11 (anchor), the hand-written floor, and this metaxy, cell by cell.

For each (graph, N) the three run back to back in separate processes, so machine load hits them alike:
the anchor (``benchmarks/anchor.py`` run by ``.anchor-venv``'s Python, which holds the published
Metaxy 0.1.11; one process per configuration), the floor (``benchmarks/floor.py``: one hand-written
Polars query, xxhash64, on in-memory frames) and ours (``benchmarks/run.py``, one process per store, so
no store starts its phases with memory an earlier one left with the allocators). With ``--own-process``
the anchor and ours also time each phase in a process of their own, which opens the store the round
wrote, so a phase's peak RSS holds what it needs and not what the allocators kept of the data
generation and writes before it. Prints ratios
ours/anchor-fastest and ours/floor; JSON lines land in ``benchmarks/results/``. ``make bench-compare``
creates the anchor virtualenv first (pinned versions: see the Makefile).

Usage:
    python benchmarks/compare.py --n 100000 1000000 --rounds 3
    python benchmarks/compare.py --n 1000000 --own-process --no-docs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
ANCHOR_PY = REPO / ".anchor-venv" / "bin" / "python"
ANCHOR_ENGINES = ("delta-polars", "duckdb-native", "duckdb-polars")
Row = dict[str, Any]


def json_lines(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> list[Row]:
    """Run ``cmd`` and parse the JSON objects it prints (other lines are echoed)."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    rows = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            rows.append(json.loads(line))
        elif line.strip():
            print(f"  [{Path(cmd[1]).name}] {line}")
    if proc.returncode not in (0, 1) or not rows:
        print(f"  [{Path(cmd[1]).name}] exit {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return rows


def anchor(graph: str, n: int, rounds: int, engine: str, own_process: bool) -> list[Row]:
    # both packages import as `metaxy`: neither the working directory nor PYTHONPATH may hold ours
    cmd = [str(ANCHOR_PY), str(BENCH / "anchor.py"), "--n", str(n), "--rounds", str(rounds)]
    cmd += ["--own-process"] if own_process else []
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with tempfile.TemporaryDirectory(prefix="metaxy_anchor_cwd_") as cwd:
        return json_lines([*cmd, "--graph", graph, "--engine", engine], cwd=Path(cwd), env=env)


def floor(graph: str, n: int, rounds: int) -> list[Row]:
    cmd = [sys.executable, str(BENCH / "floor.py"), "--n", str(n), "--rounds", str(rounds), "--graph", graph]
    return json_lines(cmd, cwd=REPO)


def ours(graph: str, n: int, rounds: int, store: str, own_process: bool) -> list[Row]:
    """One store's rows, from a process of its own: it starts with only what it leaves itself."""
    cmd = [sys.executable, str(BENCH / "run.py"), "--quiet", "--n", str(n), "--rounds", str(rounds)]
    cmd += ["--own-process"] if own_process else []
    return json_lines([*cmd, "--graph", graph, "--store", store], cwd=REPO)


def ratio(a: float | None, b: float | None, suffix: str = "") -> str:
    return "-" if not a or not b else f"{a / b:.2f}{suffix}"


def rss(row: Row | None) -> str:
    """Peak RSS of the timed region and, in brackets, its growth over what the process held at its start."""
    if row is None:
        return "-"
    return f"{row['phase_peak_rss_mib']:.0f} (+{growth(row):.0f})"


def growth(row: Row) -> float:
    """The largest RSS growth of one round over its start (older results: highest peak - highest start)."""
    if "phase_growth_rss_mib" in row:
        return float(row["phase_growth_rss_mib"])
    return float(row["phase_peak_rss_mib"] - row["phase_start_rss_mib"])


HEADER = (
    "| graph | N | phase | anchor fastest s (config) | floor s | store | ours s | anchor / ours "
    "| anchor / ours CPU | ours / floor | peak RSS MiB (growth) anchor / ours | peak ours / anchor "
    "| growth ours / anchor | ok |"
)


def cell(row: Row) -> tuple[str, int, str, bool]:
    """(graph, N, phase, whether the phases ran in processes of their own): rows compared together.

    The floor, which has no store, joins the cells of both kinds; the in-memory store cannot be
    opened by another process, so its rows are always of the first kind.
    """
    return row["graph"], row["N"], row["phase"], bool(row.get("own_process"))


def in_cell(row: Row, key: tuple[str, int, str, bool]) -> bool:
    """Whether ``row`` belongs to the cell ``key`` (see :func:`cell`: the floor belongs to both kinds)."""
    own = cell(row)
    return own == key or (row["impl"].startswith("floor") and own[:3] == key[:3])


def of_run(candidates: list[Row], row: Row) -> list[Row]:
    """Those of ``candidates`` (not empty) from ``row``'s run, or all of them when none is."""
    return [c for c in candidates if c.get("run") == row.get("run")] or candidates


@dataclass(frozen=True)
class Cell:
    """The rows of one cell (see :func:`cell`): the anchor's configurations, the floor, our stores."""

    anchors: list[Row]
    floors: list[Row]
    ours: list[Row]

    @classmethod
    def of(cls, rows: list[Row], key: tuple[str, int, str, bool]) -> Cell:
        same = [r for r in rows if in_cell(r, key)]
        anchors = [r for r in same if r["impl"].startswith("metaxy==0.1")]
        floors = [r for r in same if r["impl"].startswith("floor")]
        ours = [r for r in same if r["impl"].startswith("metaxy==") and r not in anchors]
        return cls(anchors, floors, ours)

    def store(self, engine: str) -> Row | None:
        """Our row of the store configuration ``engine`` (the last, should a merge hold two)."""
        return next((r for r in reversed(self.ours) if r["engine"] == engine), None)

    def anchor_beside(self, row: Row | None) -> Row | None:
        """The anchor's fastest configuration of ``row``'s run (the others' when its run had none)."""
        if row is None or not self.anchors:
            return None
        return min(of_run(self.anchors, row), key=lambda a: a["median_s"])

    def floor_beside(self, row: Row) -> float | None:
        """The floor's time in ``row``'s run (the first of the others' when its run had none)."""
        return of_run(self.floors, row)[0]["median_s"] if self.floors else None


def table(rows: list[Row]) -> str:
    """One line per (graph, N, phase, our store): anchor fastest, floor, ours, the ratios, peak RSS and growth.

    ``anchor / ours`` is how many times faster ours is than Metaxy 0.1.11's fastest configuration of
    the cell (the target is 5), in wall time and, steadier on a loaded machine, in CPU time of that
    same configuration; the RSS columns compare ours with that configuration's run too. Rows merged
    from several runs (``run``: which) are each set beside their own run's anchor and floor, timed
    beside them on the machine of that moment; the others' only when their run had none.
    """
    out = [HEADER, "|---|---:|---|---|---:|---|---:|---:|---:|---:|---|---:|---:|---|"]
    cells = sorted({cell(r) for r in rows}, key=lambda c: (c[3], c[1], c[0], c[2] != "new"))
    for g, n, phase, own_process in cells:
        rows_of_cell = Cell.of(rows, (g, n, phase, own_process))
        for r in rows_of_cell.ours:
            best = rows_of_cell.anchor_beside(r)
            flo = rows_of_cell.floor_beside(r)
            anchor_s = f"{best['median_s']:.3f} ({best['engine']})" if best else "-"
            a_s = best["median_s"] if best else None
            a_peak = best["phase_peak_rss_mib"] if best else None
            a_growth = max(growth(best), 1.0) if best else None
            cols = [
                g,
                f"{n:,}",
                f"{phase} (own process)" if r.get("own_process") else phase,
                anchor_s,
                f"{flo:.3f}" if flo else "-",
                r["engine"],
                f"{r['median_s']:.3f}",
                ratio(a_s, r["median_s"], "×"),
                ratio(best and best.get("median_cpu_s"), r["median_cpu_s"], "×"),
                ratio(r["median_s"], flo),
                f"{rss(best)} / {rss(r)}",
                ratio(r["phase_peak_rss_mib"], a_peak),
                ratio(max(growth(r), 1.0), a_growth),
                "yes" if r["ok"] else "NO",
            ]
            out.append("| " + " | ".join(cols) + " |")
    return "\n".join(out)


#: the targets are read off the default store's rows, and PostgreSQL's beside them
DEFAULT_STORE, SQL_SERVER = "duckdb", "postgres"
TARGET_COLUMNS = (("simple", "new"), ("simple", "stale"), ("wide", "new"), ("wide", "stale"))


def _over(a: Row | None, b: Row | None, column: str) -> float | None:
    return a[column] / b[column] if a and b and a.get(column) and b.get(column) else None


def _speed(cell: Cell) -> float | None:
    ours = cell.store(DEFAULT_STORE)
    return _over(cell.anchor_beside(ours), ours, "median_s")


def _peak(cell: Cell, store: str = DEFAULT_STORE) -> float | None:
    ours = cell.store(store)
    return _over(ours, cell.anchor_beside(ours), "phase_peak_rss_mib")


def _server_time(cell: Cell) -> float | None:
    return _over(cell.store(SQL_SERVER), cell.store(DEFAULT_STORE), "median_s")


@dataclass(frozen=True)
class Target:
    """One target: ``what``, the ratio ``value`` reads off a cell, and the ``goal`` it must reach."""

    what: str
    value: Callable[[Cell], float | None]
    goal: float
    at_least: bool = False
    unit: str = ""

    def text(self, value: float | None) -> str:
        """``value`` as the targets table prints it: bold when it misses the goal."""
        if value is None:
            return "-"
        met = value >= self.goal if self.at_least else value <= self.goal
        text = f"{value:.2f}{self.unit}"
        return text if met else f"**{text}**"


TARGETS = (
    Target("≥ 5× the anchor's fastest", _speed, 5.0, at_least=True, unit="×"),
    Target("peak ≤ ½ the anchor's", _peak, 0.5),
    Target("PostgreSQL's time ≤ 3× the default store's", _server_time, 3.0),
    Target("PostgreSQL's peak ≤ ½ the anchor's", partial(_peak, store=SQL_SERVER), 0.5),
)


def targets(rows: list[Row]) -> str:
    """Per N, each target for each (graph, phase), misses in bold: the default store's time against the
    anchor's fastest configuration and its peak RSS against that configuration's, PostgreSQL's time
    against the default store's and its peak against the anchor's. Where the run timed the phases both
    in process and each in a process of its own, a cell reads ``in process / own process``."""
    header = "| target | N | " + " | ".join(f"{g} `{phase}`" for g, phase in TARGET_COLUMNS) + " |"
    out = [header, "|---|---:|" + "---:|" * len(TARGET_COLUMNS)]
    for n in sorted({r["N"] for r in rows}):
        timed = [r for r in rows if r["N"] == n and not r["impl"].startswith("floor")]
        kinds = sorted({bool(r.get("own_process")) for r in timed})  # the floor joins both kinds
        label = " / ".join("own process" if own else "in process" for own in kinds)
        for target in TARGETS:
            cells = [
                " / ".join(target.text(target.value(Cell.of(rows, (g, n, phase, own)))) for own in kinds)
                for g, phase in TARGET_COLUMNS
            ]
            out.append(f"| {target.what} ({label}) | {n:,} | " + " | ".join(cells) + " |")
    return "\n".join(out)


DOCS = REPO / "docs" / "performance.md"
START, END = "<!-- bench-compare:start -->", "<!-- bench-compare:end -->"


def docs_block(rows: list[Row], meta: dict[str, str]) -> str:
    """What ``compare.py`` writes between the markers of docs/performance.md: how the run was made, the table."""
    rounds = sorted({r["rounds"] for r in rows})
    return "\n".join(
        [
            f"Written by `{meta['command']}` (commit `{meta['commit']}`, {meta['started']}, rounds "
            f"{', '.join(map(str, rounds))}, median; load average before: {meta['load_before']}; after: "
            f"{meta['load_after']}).",
            "",
            table(rows),
            "",
            "The targets, from the rows above:",
            "",
            targets(rows),
        ]
    )


def write_docs(path: Path, block: str) -> None:
    """Replace what stands between the two marker comments of ``path`` with ``block``."""
    text = path.read_text()
    if START not in text or END not in text or text.index(START) > text.index(END):
        raise SystemExit(f"error: {path} lacks the markers {START} ... {END} (in that order).")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{block}\n{END}{tail}")


def read_results(sources: list[Path]) -> list[Row]:
    """The rows of the results files ``sources`` (JSON lines), each marked with its file's index (``run``)."""
    return [
        {**json.loads(line), "run": i}
        for i, source in enumerate(sources)
        for line in source.read_text().splitlines()
        if line.strip()
    ]


def merged_meta(metas: list[dict[str, str]]) -> dict[str, str]:
    """How several runs were made, as one: their commands, commits, start times and loads, in order."""
    if len(metas) == 1:
        return metas[0]
    return {
        key: " / ".join(dict.fromkeys(m[key] for m in metas))
        if key != "command"
        else "` then `".join(m[key] for m in metas)
        for key in metas[0]
    }


def git_commit(repo: Path = REPO) -> str:
    """The commit measured; ``-dirty`` when tracked files differ from it (the run measured those)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{commit}-dirty" if git("status", "--porcelain", "--untracked-files=no") else commit


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def load_average() -> str:
    """The three load averages, as ``uptime`` prints them."""
    return uptime().rsplit("load average:", 1)[-1].strip()


def report(rows: list[Row], meta: dict[str, str], docs: Path | None) -> None:
    """Print the table; write it into ``docs`` too when given and the run includes the anchor."""
    print(f"{table(rows)}\n\n{targets(rows)}")
    if docs is None:
        return
    if not any(r["impl"].startswith("metaxy==0.1") for r in rows):
        print("\nno anchor in this run: docs/performance.md left as it is")
        return
    write_docs(docs, docs_block(rows, meta))
    print(f"\nwrote the table into {docs}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--n", type=int, nargs="+", default=[int(x) for x in os.environ.get("BENCH_N", "100000").split()]
    )
    p.add_argument("--graph", nargs="+", default=["simple", "wide"])
    p.add_argument("--no-floor", action="store_true", help="skip the hand-written floor")
    p.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")))
    p.add_argument(
        "--anchor-engine", nargs="*", default=list(ANCHOR_ENGINES), help="none: skip Metaxy 0.1.11"
    )
    p.add_argument(
        "--store", nargs="+", default=["duckdb"], help="our store configurations (benchmarks/stores.py)"
    )
    p.add_argument(
        "--docs",
        type=Path,
        default=DOCS,
        help="write the table between the bench-compare markers of this file (default: docs/performance.md);"
        " only runs that include the anchor write it",
    )
    p.add_argument("--no-docs", action="store_true", help="print the table only")
    p.add_argument(
        "--own-process",
        action="store_true",
        help="time each phase of the anchor and of our stores in a process of its own, which opens "
        "the store the round wrote (the in-memory store and the floor cannot: they run as before)",
    )
    p.add_argument(
        "--from",
        dest="sources",
        type=Path,
        nargs="+",
        default=None,
        help="run nothing: the table (and docs) from the results files of earlier runs (each with its "
        ".meta.json beside it), e.g. a 1M run of every store and a 10M run of the fast ones",
    )
    args = p.parse_args(argv)
    if args.sources is not None:
        rows = read_results(args.sources)
        metas = [json.loads(s.with_suffix(".meta.json").read_text()) for s in args.sources]
        report(rows, merged_meta(metas), None if args.no_docs else args.docs)
        return 0 if all(r.get("ok", False) for r in rows) else 1
    if args.anchor_engine and not ANCHOR_PY.exists():
        sys.exit(f"error: {ANCHOR_PY} is missing; run `make bench-compare` (it creates .anchor-venv).")
    out_dir = REPO / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"compare-{time.strftime('%Y%m%dT%H%M%S')}.jsonl"
    print(f"load before: {uptime()}")
    load_before, started = load_average(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows: list[Row] = []
    for n in args.n:
        for g in args.graph:
            print(f"cell {g} N={n:,}", flush=True)
            for engine in args.anchor_engine:
                rows += anchor(g, n, args.rounds, engine, args.own_process)
            if not args.no_floor:
                rows += floor(g, n, args.rounds)
            for store in args.store:
                rows += ours(g, n, args.rounds, store, args.own_process)
            with out.open("w") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)
    command = "python benchmarks/compare.py " + " ".join(argv if argv is not None else sys.argv[1:])
    meta = {
        "command": command.strip(),
        "started": started,
        "load_before": load_before,
        "load_after": load_average(),
        "commit": git_commit(),
    }
    out.with_suffix(".meta.json").write_text(json.dumps(meta))
    print(f"load after: {uptime()}\nJSON lines: {out}\n")
    report(rows, meta, None if args.no_docs else args.docs)
    return 0 if all(r.get("ok", False) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
