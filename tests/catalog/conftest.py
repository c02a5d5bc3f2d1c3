"""Catalog tests reuse the ``catalog`` fixture (one run per catalog factory) of the store suite."""

from __future__ import annotations

from tests.stores.conftest import catalog

__all__ = ["catalog"]
