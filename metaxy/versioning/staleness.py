"""The one staleness rule: when a stored row is *stale*, written for Polars and for SQL side by side.

A stored row is stale when it was computed from other inputs (its provenance differs from the
expected one) or under another definition of the feature (its feature version differs from the
current one). Every engine, ``status`` and ``impact`` decide staleness through this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import polars as pl

from metaxy.constants import FEATURE_VERSION, PROVENANCE

if TYPE_CHECKING:
    import sqlglot.expressions as exp

Column = TypeVar("Column", pl.Expr, pl.Series)


def is_stale(
    provenance: Column, stored_provenance: Column, stored_feature_version: Column, feature_version: str
) -> Column:
    """Polars: the stored row's provenance or feature version differs from the expected one.

    Works on expressions and on Series alike (element-wise).
    """
    return (provenance != stored_provenance) | is_stale_definition(stored_feature_version, feature_version)


def is_stale_definition(stored_feature_version: Column, feature_version: str) -> Column:
    """Polars: the half of the rule that needs no upstream: stored under another feature version.

    These rows are stale whatever the upstream holds (``impact`` counts them before a migration).
    """
    return stored_feature_version != feature_version


def sql_is_stale(expected: str, stored: str, feature_version: str) -> exp.Expr:
    """SQL: :func:`is_stale` between the tables (or CTEs) aliased ``expected`` and ``stored``."""
    import sqlglot.expressions as exp

    def column(name: str, table: str) -> exp.Column:
        return exp.Column(
            this=exp.to_identifier(name, quoted=True), table=exp.to_identifier(table, quoted=True)
        )

    return exp.or_(
        exp.NEQ(this=column(PROVENANCE, expected), expression=column(PROVENANCE, stored)),
        exp.NEQ(this=column(FEATURE_VERSION, stored), expression=exp.Literal.string(feature_version)),
    )
