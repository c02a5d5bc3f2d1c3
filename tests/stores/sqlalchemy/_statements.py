"""What a SQLAlchemy store sends to its database through ADBC, for tests that look at the SQL."""

from __future__ import annotations

import metaxy as mx


def arrow_reads(store: mx.SQLAlchemyMetadataStore) -> list[str]:
    """The statements ``store`` reads through ADBC from now on."""
    sent: list[str] = []
    reader = store._reader if store.is_postgres else store._sqlite_reader
    assert reader is not None
    reader.listeners.append(sent.append)
    return sent
