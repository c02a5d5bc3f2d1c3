"""Keeping a Delta append's cost flat as the table's history grows: commit hooks and table reloads.

Two things made an append slower with every version (measured in ``benchmarks/delta_append.py``):

- deltalake's post-commit hook cleans up expired log files after *every* commit, and to find them it
  lists the whole ``_delta_log/`` folder (one more object-store LIST page per 1,000 commits). Expired
  logs can only go once a newer checkpoint exists, so metaxy asks for the cleanup only on the commit
  that writes a checkpoint (every ``delta.checkpointInterval`` commits); it still honours
  ``delta.enableExpiredLogCleanup`` and ``delta.logRetentionDuration``.
- a ``DeltaTable`` kept loaded replays, after each commit, every commit made since it was loaded
  (it never moves to a newer checkpoint), so a long-lived writer slowed down linearly. A loaded table
  is read again once a checkpoint was written after it was loaded: from that checkpoint on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: deltalake's checkpoint interval when the table does not set ``delta.checkpointInterval``
DEFAULT_CHECKPOINT_INTERVAL = 100


@dataclass
class LoadedTable:
    """A ``DeltaTable`` kept open by a store, with the version it was read from storage at."""

    table: Any
    loaded_version: int

    @classmethod
    def of(cls, table: Any) -> LoadedTable:
        return cls(table, table.version())

    def is_behind_checkpoint(self) -> bool:
        """Whether a checkpoint was written after the table was loaded (reloading is then cheaper)."""
        return (
            checkpoints_between(self.loaded_version, self.table.version(), checkpoint_interval(self.table))
            > 0
        )


def checkpoint_interval(table: Any) -> int:
    """The table's ``delta.checkpointInterval`` (commits between two checkpoints)."""
    configured = table.metadata().configuration.get("delta.checkpointInterval")
    try:
        return max(1, int(configured)) if configured is not None else DEFAULT_CHECKPOINT_INTERVAL
    except ValueError:
        return DEFAULT_CHECKPOINT_INTERVAL


def checkpoints_between(after: int, upto: int, interval: int) -> int:
    """How many checkpoint versions lie in ``(after, upto]``; deltalake writes one at ``v`` when
    ``(v + 1) % interval == 0`` (versions count from 0)."""
    return (upto + 1) // interval - (after + 1) // interval


def commit_hooks(table: Any | None) -> Any:
    """deltalake's post-commit hook settings for the next commit to ``table`` (None: a new table).

    Checkpoints are written as deltalake schedules them; the expired-log cleanup (a listing of the
    whole log) runs only with the commit that writes a checkpoint, per the table's own settings.
    """
    from deltalake import PostCommitHookProperties

    writes_checkpoint = table is not None and checkpoints_between(
        table.version(), table.version() + 1, checkpoint_interval(table)
    )
    return PostCommitHookProperties(
        create_checkpoint=True, cleanup_expired_logs=None if writes_checkpoint else False
    )
