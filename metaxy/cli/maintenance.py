"""Commands that keep a store for years: ``migrate-schema`` (user columns) and ``metadata prune``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

import polars as pl
import typer
from rich.table import Table

from metaxy import SchemaMigration
from metaxy.cli._app import FormatOption, app, is_json, metadata_app, state
from metaxy.cli.features import resolve_key
from metaxy.cli.output import OutputFormat, console, emit_json

#: the dtypes ``--add``/``--cast`` accept, by lower-case name
DTYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "str": pl.String(),
    "int8": pl.Int8(),
    "int16": pl.Int16(),
    "int32": pl.Int32(),
    "int64": pl.Int64(),
    "uint8": pl.UInt8(),
    "uint16": pl.UInt16(),
    "uint32": pl.UInt32(),
    "uint64": pl.UInt64(),
    "float32": pl.Float32(),
    "float64": pl.Float64(),
    "boolean": pl.Boolean(),
    "bool": pl.Boolean(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us"),
    "datetime[utc]": pl.Datetime("us", "UTC"),
}
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@app.command("migrate-schema")
def migrate_schema(
    ctx: typer.Context,
    feature: Annotated[str, typer.Argument(help="Feature key.")],
    add: Annotated[
        list[str] | None,
        typer.Option("--add", help="NAME:TYPE[=DEFAULT] adds a column (stored rows get DEFAULT, or null)."),
    ] = None,
    rename: Annotated[list[str] | None, typer.Option("--rename", help="OLD=NEW renames a column.")] = None,
    cast: Annotated[
        list[str] | None,
        typer.Option("--cast", help="NAME:TYPE casts a column; refused if a stored value would change."),
    ] = None,
    drop: Annotated[list[str] | None, typer.Option("--drop", help="NAME drops a column.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and report what would change; write nothing.")
    ] = False,
    applied_by: Annotated[
        str | None, typer.Option("--by", help="Who applies it, for the migration log (default: OS user).")
    ] = None,
    log: Annotated[
        bool, typer.Option("--log", help="List the schema migrations applied to FEATURE instead.")
    ] = False,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Add, rename, cast or drop user columns of a feature's stored rows (history included)."""
    cli = state(ctx)
    key = resolve_key(cli.feature_graph(), feature)
    if log:
        with cli.store(read_only=True) as store:
            _print_log(store.schema_migrations(key), fmt)
        return
    migration = parse_migration(add or [], rename or [], cast or [], drop or [])
    with cli.store(read_only=dry_run) as store:
        report = store.migrate_schema(key, migration, dry_run=dry_run, applied_by=applied_by)
        name = store.name
    if is_json(fmt):
        emit_json("migrate-schema", {"store": name, **report.to_dict()})
        return
    verb = "dry run: would rewrite" if dry_run else "rewrote"
    console().print(f"{verb} {report.rows} rows of {key.to_string()} in store {name}:", markup=False)
    for line in report.operations:
        console().print(f"  {line}", markup=False)
    if report.migration_id:
        console().print(f"recorded as migration {report.migration_id}", markup=False)


@metadata_app.command("prune")
def prune(
    ctx: typer.Context,
    feature: Annotated[str, typer.Argument(help="Feature key.")],
    keep_versions: Annotated[
        int | None,
        typer.Option(
            "--keep-versions", help="Keep the latest rows of this many feature versions (default 1)."
        ),
    ] = None,
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", help="Only remove rows last written before this age: 30d, 12h, 2w."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print how many rows would go; remove nothing.")
    ] = False,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Hard-remove superseded rows of a feature (never a latest row, never one an increment reads)."""
    cli = state(ctx)
    key = resolve_key(cli.feature_graph(), feature)
    age = None if older_than is None else parse_age(older_than)
    with cli.store(read_only=dry_run) as store:
        report = store.prune(key, keep_versions=keep_versions, older_than=age, dry_run=dry_run)
        name = store.name
    if is_json(fmt):
        emit_json("metadata prune", {"store": name, **report.to_dict()})
        return
    if dry_run:
        text = f"dry run: would prune {report.pruned} of {report.rows_before} rows of {key.to_string()} in store {name}"
    else:
        text = f"pruned {report.pruned} of {report.rows_before} rows of {key.to_string()} in store {name}"
    errors = f", {report.errors_pruned} recorded failed attempt(s)" if report.errors_pruned else ""
    console().print(f"{text}{errors} (kept versions: {', '.join(report.kept_versions)}).", markup=False)


def parse_migration(add: list[str], rename: list[str], cast: list[str], drop: list[str]) -> SchemaMigration:
    """The migration the ``--add/--rename/--cast/--drop`` options describe."""
    added: dict[str, pl.DataType] = {}
    defaults: dict[str, Any] = {}
    for text in add:
        spec, has_default, default = text.partition("=")
        name, dtype = _typed(spec, "--add", "NAME:TYPE[=DEFAULT], e.g. --add lang:String=en")
        added[name] = dtype
        if has_default:
            defaults[name] = _default(default, dtype)
    renamed = dict(_pair(text, "=", "--rename", "OLD=NEW, e.g. --rename path=uri") for text in rename)
    casts = dict(_typed(text, "--cast", "NAME:TYPE, e.g. --cast size:Int32") for text in cast)
    return SchemaMigration(add=added, defaults=defaults, rename=renamed, cast=casts, drop=list(drop))


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``3600s``, ``2w`` as a timedelta."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if match is None:
        raise typer.BadParameter(
            f"{text!r} is not an age. Write a number and a unit (s, m, h, d, w), e.g. 30d.",
            param_hint="--older-than",
        )
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def _pair(text: str, sep: str, option: str, form: str) -> tuple[str, str]:
    left, found, right = text.partition(sep)
    if not found or not left or not right:
        raise typer.BadParameter(f"{text!r} is not {form}.", param_hint=option)
    return left, right


def _typed(text: str, option: str, form: str) -> tuple[str, pl.DataType]:
    name, type_name = _pair(text, ":", option, form)
    dtype = DTYPES.get(type_name.strip().lower())
    if dtype is None:
        known = ", ".join(sorted({str(t) for t in DTYPES.values()}))
        raise typer.BadParameter(
            f"{type_name!r} is not a type this option knows ({known}).", param_hint=option
        )
    return name, dtype


def _default(text: str, dtype: pl.DataType) -> Any:
    if dtype == pl.Boolean:
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise typer.BadParameter(f"{text!r} is not true or false.", param_hint="--add")
        return lowered == "true"
    return text  # cast to the column's type (and checked) by the migration


def _print_log(log: pl.DataFrame, fmt: str) -> None:
    rows = [{**row, "applied_at": str(row["applied_at"])} for row in log.iter_rows(named=True)]
    if is_json(fmt):
        emit_json("migrate-schema --log", {"migrations": rows})
        return
    table = Table("applied at", "by", "rows", "operations", "id", title="schema migrations")
    for row in rows:
        table.add_row(
            row["applied_at"], row["applied_by"], str(row["rows"]), row["operations"], row["migration_id"]
        )
    console().print(table)
