"""The audit log: every attempted store operation, appended to a store of your choice, chained by hash.

Each entry holds a sequence number, the time, the principal, the operation, the feature, the rows
involved, whether it was allowed, a detail (the error of a denied or failed call) and two hashes: the
previous entry's and its own (SHA-256 over the previous hash and every field). Editing an entry breaks
its hash; deleting or inserting one breaks the chain after it; :meth:`AuditLog.verify` reports both.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from metaxy.constants import SYSTEM_NAMESPACE
from metaxy.models.keys import FeatureKey

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore

#: the system table holding the log in the chosen store
AUDIT_KEY = FeatureKey([SYSTEM_NAMESPACE, "audit_log"])
GENESIS = "0" * 64
SCHEMA = pl.Schema(
    {
        "seq": pl.Int64(),
        "at": pl.Datetime("us", "UTC"),
        "principal": pl.String(),
        "operation": pl.String(),
        "feature": pl.String(),
        "rows": pl.Int64(),
        "allowed": pl.Boolean(),
        "detail": pl.String(),
        "prev_hash": pl.String(),
        "hash": pl.String(),
    }
)


@dataclass
class AuditReport:
    """What :meth:`AuditLog.verify` found: the entries checked, the last hash, and every problem."""

    entries: int
    head: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class AuditLog:
    """Appends entries to ``store`` (its ``metaxy_system/audit_log`` table) and verifies the chain.

    One writer at a time: entries are numbered from the last one this object read or wrote, under a
    lock; two processes writing one log at once fork the chain, which ``verify`` reports.

    Args:
        store: where the log lives; a store of its own keeps it away from the audited data.
        clock: the time of an entry (``datetime.now(UTC)``); tests pass a fixed clock.
    """

    def __init__(self, store: MetadataStore, *, clock: Any = None) -> None:
        self.store = store
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._head: tuple[int, str] | None = None

    def record(
        self,
        *,
        principal: str,
        operation: str,
        feature: str | None,
        allowed: bool,
        rows: int | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one entry (opens the log's store for the call if it is not open)."""
        with self._lock, self.store:
            seq, prev = self._head if self._head is not None else self._last()
            entry: dict[str, Any] = {
                "seq": seq + 1,
                "at": self._clock(),
                "principal": principal,
                "operation": operation,
                "feature": feature,
                "rows": rows,
                "allowed": allowed,
                "detail": detail,
                "prev_hash": prev,
            }
            entry["hash"] = entry_hash(entry)
            self.store.append_system_rows(AUDIT_KEY, pl.DataFrame([entry], schema=SCHEMA))
            self._head = (entry["seq"], entry["hash"])

    def entries(self) -> pl.DataFrame:
        """Every entry, oldest first."""
        with self.store:
            rows = self.store.read_system_table(AUDIT_KEY)
            return pl.DataFrame(schema=SCHEMA) if rows is None else rows.collect().sort("seq")

    def verify(self, *, expect_head: str | None = None) -> AuditReport:
        """Check every entry's hash and the chain; ``expect_head``: the last hash you kept elsewhere
        (a deleted *last* entry leaves a valid chain, so only a kept head reveals it)."""
        entries = self.entries()
        problems: list[str] = []
        prev, expected_seq = GENESIS, 0
        for row in entries.iter_rows(named=True):
            expected_seq += 1
            if row["seq"] != expected_seq:
                problems.append(
                    f"entry {row['seq']}: expected entry {expected_seq} (an entry was deleted or inserted)"
                )
                expected_seq = row["seq"]
            if row["prev_hash"] != prev:
                problems.append(f"entry {row['seq']}: does not follow the entry before it (broken chain)")
            if entry_hash(row) != row["hash"]:
                problems.append(f"entry {row['seq']}: its content does not match its hash (edited)")
            prev = row["hash"]
        if expect_head is not None and prev != expect_head:
            problems.append(
                f"the last entry's hash is {prev[:16]}…, expected {expect_head[:16]}… (entries were removed at the end)"
            )
        return AuditReport(entries.height, prev, problems)

    def _last(self) -> tuple[int, str]:
        rows = self.store.read_system_table(AUDIT_KEY)
        if rows is None:
            return 0, GENESIS
        last = rows.sort("seq").tail(1).collect()
        return (0, GENESIS) if last.height == 0 else (int(last["seq"][0]), str(last["hash"][0]))


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and every field of ``entry`` (in the schema's order)."""
    parts = []
    for name in SCHEMA.names():
        if name == "hash":
            continue
        value = entry[name]
        if isinstance(value, datetime):
            value = (
                (value if value.tzinfo else value.replace(tzinfo=UTC))
                .astimezone(UTC)
                .isoformat(timespec="microseconds")
            )
        parts.append("\x00" if value is None else str(value))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
