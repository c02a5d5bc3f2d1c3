"""Benchmarks for metaxy (not part of the test suite): see ``run.py`` and ``docs/performance.md``."""
