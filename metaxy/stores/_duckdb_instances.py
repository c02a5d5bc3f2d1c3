"""DuckDB instances of a process: one kept for the life of the process, to which stores attach their files.

Creating a DuckDB instance builds its catalog of built-in functions (~20 ms), and closing one that
has read a large table frees it again (7-21 ms after reading the 1M-row benchmark roots). Attaching
a file to an instance that already exists takes ~1 ms, detaching it ~1.5 ms. So a store of a file
attaches it to a *host*: an in-memory instance created on first use and kept, one per set of
instance-wide settings (``disabled_compression_methods``, which ``compress_strings`` sets, applies
to every database of an instance). Each store talks to it through a connection of its own whose
default database is its file (``USE``), so its SQL names tables as before.

Detaching hands the file back as closing did: DuckDB checkpoints it and releases its lock, so another
process may open it. DuckDB attaches a file once per process: stores of one process on one file share
its attachment, counted and detached with the last of them, on the same host and not writing through
a read-only attachment (:class:`AttachedElsewhere` otherwise). An in-memory store's data lives in its
instance, so it has an instance of its own (:func:`new_instance`).

A forked child starts without hosts: the ones it inherited are never touched again, not even closed
(their threads stayed in the parent).
"""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: never download or autoload an extension: metaxy works offline
_OFFLINE = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
#: strings leave DuckDB as Arrow string views, Polars' own layout: read without a copy (1M rows of two
#: short version strings: the read into Polars 25-30 ms CPU -> 0.5 ms, and one copy of the strings less in memory)
STRING_VIEWS: dict[str, str | bool] = {"arrow_output_version": "1.4", "produce_arrow_string_view": True}
_CONFIG = {**_OFFLINE, **STRING_VIEWS}

#: the memory a host's queries freed goes back to the system in the background (DuckDB's jemalloc
#: keeps it otherwise until the instance closes: 1M simple benchmark rows written and the store closed,
#: the process held 474 MiB, and 177 MiB two seconds later with these threads)
_HOST_SETTINGS = {"allocator_background_threads": "true"}

Settings = tuple[tuple[str, str], ...]


class AttachedElsewhere(Exception):
    """The file is attached in this process in a way this store cannot share (the message says how)."""


@dataclass
class _File:
    """One attached file: its host, its name there, how it was attached and how many stores use it."""

    host: Any
    alias: str
    read_only: bool
    users: int = 0


@dataclass(frozen=True)
class Attached:
    """A store's connection to its attached file (``con``; ``database``: the file's name on the host,
    which a new connection of the host must ``USE``), and what :func:`detach` needs."""

    con: Any
    database: str
    path: str
    generation: int


_HOSTS: dict[Settings, Any] = {}
_FILES: dict[str, _File] = {}
_INHERITED: list[Any] = []  # what a forked child must neither use nor close
#: re-entrant: a store dropped unclosed detaches when it is collected, which may happen in the middle of
#: an attach or detach of the same thread
_GUARD = threading.RLock()
_ALIASES = itertools.count()
_generation = 0


def _forget_inherited() -> None:
    global _generation
    _INHERITED.extend(_HOSTS.values())
    _HOSTS.clear()
    _FILES.clear()
    _generation += 1


os.register_at_fork(after_in_child=_forget_inherited)


def new_instance(duckdb: Any, settings: Mapping[str, str]) -> Any:
    """A connection to a new in-memory DuckDB instance with ``settings``."""
    con = duckdb.connect(":memory:", config=_CONFIG)
    try:
        for name, value in settings.items():  # instance-wide settings DuckDB takes only by SET
            con.execute(f"SET {name} = '{_quoted(value)}'")
    except BaseException:
        con.close()
        raise
    return con


def attach(duckdb: Any, path: str, *, read_only: bool, settings: Mapping[str, str]) -> Attached:
    """A connection whose default database is the file ``path``, attached to the host of ``settings``.

    Raises:
        AttachedElsewhere: the file is attached in this process on another host, or read-only while
            this store would write.
        duckdb.Error: DuckDB could not attach it (locked by another process, not a database, ...).
    """
    key = os.path.realpath(path)
    wanted: Settings = tuple(sorted(settings.items()))
    with _GUARD:
        file = _FILES.get(key)
        if file is None:
            file = _attached_file(duckdb, path, wanted, read_only)
            _FILES[key] = file
        elif file.host is not _HOSTS.get(wanted):
            raise AttachedElsewhere("another store of this process has it open with other DuckDB settings")
        elif file.read_only and not read_only:
            raise AttachedElsewhere("another store of this process has it open read-only")
        file.users += 1  # first: a store collected meanwhile (see _GUARD) must not detach the file
        con = None
        try:
            con = file.host.cursor()
            con.execute(f'USE "{file.alias}"')
        except BaseException:
            if con is not None:
                con.close()
            file.users -= 1
            _detach_unused(key, file)
            raise
        return Attached(con, file.alias, key, _generation)


def detach(attached: Attached) -> None:
    """Close a connection :func:`attach` gave; the last store of its file detaches the file."""
    with _GUARD:
        if attached.generation != _generation:  # opened before this process was forked from its parent
            _INHERITED.append(attached.con)
            return
        attached.con.close()
        file = _FILES[attached.path]
        file.users -= 1
        _detach_unused(attached.path, file)


def _attached_file(duckdb: Any, path: str, settings: Settings, read_only: bool) -> _File:
    host = _HOSTS.get(settings)
    if host is None:
        host = new_instance(duckdb, {**_HOST_SETTINGS, **_spill_directory(), **dict(settings)})
        _HOSTS[settings] = host
    alias = f"metaxy_file_{next(_ALIASES)}"
    host.execute(f"ATTACH '{_quoted(path)}' AS \"{alias}\"" + (" (READ_ONLY)" if read_only else ""))
    return _File(host, alias, read_only)


def _detach_unused(key: str, file: _File) -> None:
    if file.users == 0:  # a failed DETACH keeps the entry: the next store of the file attaches to it
        file.host.execute(f'DETACH "{file.alias}"')  # checkpoints the file and releases DuckDB's lock
        del _FILES[key]


def _spill_directory() -> dict[str, str]:
    """Where the host spills what does not fit in memory: an in-memory instance would use ``.tmp`` in
    the working directory; the system's temporary directory surprises less."""
    return {"temp_directory": os.path.join(tempfile.gettempdir(), f"metaxy-duckdb-{os.getpid()}")}


def _quoted(text: str) -> str:
    """``text`` for the inside of a SQL string literal."""
    return text.replace("'", "''")
