"""Test utilities for metaxy users: a failure-injecting store, an example graph and a pytest plugin.

The pytest plugin (:mod:`metaxy.testing.pytest_plugin`) loads automatically; disable it with
``-p no:metaxy``.
"""

from __future__ import annotations

from metaxy.testing.example import (
    EXAMPLE_SAMPLE_UIDS,
    ExampleFeatures,
    define_example_features,
    example_videos,
    materialize_example,
)
from metaxy.testing.mock import MockMetadataStore

__all__ = [
    "EXAMPLE_SAMPLE_UIDS",
    "ExampleFeatures",
    "MockMetadataStore",
    "define_example_features",
    "example_videos",
    "materialize_example",
]
