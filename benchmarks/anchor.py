"""The same benchmark on the published Metaxy 0.1.11: the "anchor" our numbers are compared with.

Runs only in its own virtualenv, whose ``metaxy`` is 0.1.11 (both packages import as ``metaxy``;
``make bench-compare`` creates ``.anchor-venv`` with the pinned versions). It imports nothing from
this repository but ``data.py`` and ``measure.py`` (loaded by file path, both free of ``metaxy``), so
keys, ids, seeds and version strings are those of ``benchmarks/run.py``.

Per round, in a fresh temporary directory: the roots are written (untimed); phase ``new`` is timed
(open the store, ``resolve_update(leaf)``, convert the increment to Polars, close); the leaf's rows and a
full re-write of root 0 with ``audio`` bumped on 10% of samples are appended (untimed); phase ``stale``
is timed the same way. Each phase checks its answer (N new; exactly the bumped ids stale; no orphans).
With ``--own-process`` each phase is timed in a process of its own, as ``run.py --own-process`` does.

Configurations (``--engine``): ``delta-polars`` (Delta tables, Polars versioning, xxhash64),
``duckdb-native`` (DuckDB file, SQL versioning) and ``duckdb-polars`` (DuckDB file, Polars versioning).
0.1.11's DuckDB store installs the community ``hashfuncs`` extension on open, which needs the network;
offline it is removed, which leaves md5 as the only hash DuckDB computes, so the DuckDB configurations
hash with md5.

Usage (one configuration per process; prints one JSON object per phase):
    .anchor-venv/bin/python benchmarks/anchor.py --n 100000 --rounds 3 --graph simple --engine delta-polars
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import shutil
import sys
import tempfile
import types
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import metaxy as mx
from metaxy.config import MetaxyConfig

HERE = Path(__file__).resolve().parent
ENGINES = ("delta-polars", "duckdb-native", "duckdb-polars")


def _load(name: str) -> ModuleType:
    """A sibling module by file path (the repository root must not shadow 0.1.11's ``metaxy``)."""
    spec = importlib.util.spec_from_file_location(f"_anchor_{name}", HERE / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


data = _load("data")
measure = _load("measure")


def _feature(key: str, fields: tuple[str, ...], deps: list[type[Any]]) -> type[Any]:
    spec = mx.FeatureSpec(
        key=key,
        id_columns=(data.ID,),
        deps=[mx.FeatureDep(feature=d) for d in deps],
        fields=[mx.FieldSpec(key=f, code_version=data.CODE_VERSION) for f in fields],
    )
    return types.new_class(key.replace("/", "_"), (mx.BaseFeature,), {"spec": spec})


def build(shape: Any) -> tuple[Any, list[type[Any]], type[Any]]:
    """(graph, roots, leaf) of ``shape`` in 0.1.11's API, in a graph of their own."""
    graph = mx.FeatureGraph()
    with graph.use():
        roots = [_feature(key, shape.root_fields, []) for key in shape.roots]
        leaf = _feature(shape.leaf, shape.leaf_fields, roots)
    return graph, roots, leaf


def make_store(engine: str, workdir: Path) -> Any:
    """A fresh 0.1.11 store of configuration ``engine`` inside ``workdir``."""
    if engine == "delta-polars":
        from metaxy.ext.polars.handlers.delta import DeltaMetadataStore

        return DeltaMetadataStore(root_path=workdir / "delta", hash_algorithm=mx.HashAlgorithm.XXHASH64)
    from metaxy.ext.duckdb import DuckDBMetadataStore

    store = DuckDBMetadataStore(
        database=str(workdir / "anchor.duckdb"),
        hash_algorithm=mx.HashAlgorithm.MD5,
        versioning_engine="native" if engine == "duckdb-native" else "polars",
    )
    store.extensions = [e for e in store.extensions if e.name != "hashfuncs"]  # offline
    return store


def timed_resolve(store: Any, leaf: type[Any]) -> tuple[Any, Any]:
    """Open, resolve the leaf, convert to Polars, close: the timed region."""
    with measure.Timed() as timed, store.open("w"):
        increment = store.resolve_update(leaf).to_polars()
    return timed, increment


def one_round(engine: str, name: str, n: int, *, own_process: bool = False) -> dict[str, Any]:
    """Both phases of graph ``name`` on a fresh store; per phase (timing, ok, rows new, rows stale).

    With ``own_process``, each phase is timed in a process of its own (:func:`phase_process`), which
    opens the store this process wrote.
    """
    shape = data.SHAPES[name]
    graph, roots, leaf = build(shape)
    workdir = Path(tempfile.mkdtemp(prefix="metaxy_anchor_"))
    try:
        store = make_store(engine, workdir)
        with graph.use():
            with store.open("w"):
                for i, root in enumerate(roots):
                    store.write(root, data.root_frame(n, shape.root_fields, data.root_seed(i)))
            gc.collect()
            if own_process:  # the phase process writes the leaf's rows too
                new = measure.run_phase(phase_command(engine, name, n, "new", workdir), cwd=workdir)
            else:
                timed, increment = timed_resolve(store, leaf)
                new = (timed, *data.answer("new", increment, n))
                with store.open("w"):
                    store.write(leaf, increment.new)
                del increment
            bumped, bumped_ids = data.bump(data.root_frame(n, shape.root_fields, data.root_seed(0)))
            with store.open("w"):
                store.write(roots[0], bumped)
            del bumped
            gc.collect()
            if own_process:
                stale = measure.run_phase(phase_command(engine, name, n, "stale", workdir), cwd=workdir)
            else:
                timed, increment = timed_resolve(store, leaf)
                stale = (timed, *data.answer("stale", increment, n, bumped_ids))
        return {"new": new, "stale": stale}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def phase_command(engine: str, name: str, n: int, phase: str, workdir: Path) -> list[str]:
    """The command line of a process that times ``phase`` on the store of ``engine`` in ``workdir``."""
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        *("--phase", phase, "--workdir", str(workdir)),
        *("--graph", name, "--n", str(n), "--engine", engine),
    ]


def phase_process(engine: str, name: str, n: int, phase: str, workdir: Path) -> None:
    """A phase process: warm up (1,000 samples elsewhere), time ``phase`` on the store in ``workdir``,
    print the sample; after ``new``, write the leaf's rows as :func:`one_round` does."""
    one_round(engine, name, 1000)
    gc.collect()
    shape = data.SHAPES[name]
    graph, _, leaf = build(shape)
    store = make_store(engine, workdir)
    with graph.use():
        timed, increment = timed_resolve(store, leaf)
        bumped_ids = (
            data.bump(data.root_frame(n, shape.root_fields, data.root_seed(0)))[1]
            if phase == "stale"
            else None
        )
        sample = (timed, *data.answer(phase, increment, n, bumped_ids))
        if phase == "new":
            with store.open("w"):
                store.write(leaf, increment.new)
    measure.print_sample(sample)


def bench_cell(
    engine: str, graph: str, n: int, rounds: int, *, own_process: bool = False
) -> list[dict[str, Any]]:
    """Median over ``rounds`` of both phases after a warm-up round of 1,000 samples (in each phase
    process instead, with ``own_process``)."""
    if not own_process:
        one_round(engine, graph, 1000)
    runs = [one_round(engine, graph, n, own_process=own_process) for _ in range(rounds)]
    return [
        measure.summary_row(
            [r[phase] for r in runs],
            impl=f"metaxy=={mx.__version__}",
            graph=graph,
            N=n,
            phase=phase,
            engine=engine,
            hash="xxhash64" if engine == "delta-polars" else "md5",
            own_process=own_process,
        )
        for phase in ("new", "stale")
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, nargs="+", default=[100_000])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--graph", nargs="+", choices=sorted(data.SHAPES), default=sorted(data.SHAPES))
    p.add_argument("--engine", nargs="+", choices=ENGINES, default=list(ENGINES))
    p.add_argument("--own-process", action="store_true", help="time each phase in a process of its own")
    p.add_argument("--phase", choices=("new", "stale"), help=argparse.SUPPRESS)  # a phase process
    p.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not mx.__version__.startswith("0.1."):
        sys.exit(f"error: this runs on Metaxy 0.1.11, found metaxy {mx.__version__} (use .anchor-venv).")
    warnings.filterwarnings("ignore")  # 0.1.11's notices about auto-created tables and engines
    MetaxyConfig.set(MetaxyConfig(project="bench", auto_create_tables=True, enable_map_datatype=False))
    if args.phase is not None:
        phase_process(args.engine[0], args.graph[0], args.n[0], args.phase, args.workdir)
        return 0
    ok = True
    for n in args.n:
        for graph in args.graph:
            for engine in args.engine:
                for row in bench_cell(engine, graph, n, args.rounds, own_process=args.own_process):
                    ok &= row["ok"]
                    print(json.dumps(row), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
