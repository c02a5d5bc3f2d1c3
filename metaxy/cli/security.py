"""Commands about access control: ``metaxy auth new-key`` / ``hash-key``, ``metaxy audit verify`` / ``list``."""

from __future__ import annotations

import sys
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from metaxy.cli._app import FormatOption, app, is_json, state
from metaxy.cli.output import OutputFormat, console, emit_json
from metaxy.exceptions import AuditIntegrityError
from metaxy.stores.wrappers.access import admin_audit_log
from metaxy.stores.wrappers.auth import generate_api_key, hash_api_key

auth_app = typer.Typer(help="Create API keys and the hashes metaxy.toml stores.", no_args_is_help=True)
app.add_typer(auth_app, name="auth")


@auth_app.command("new-key")
def new_key(
    principal: Annotated[
        str, typer.Argument(help="The principal the key is for (a [security.principals] name).")
    ],
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Print a new random API key and the metaxy.toml line holding its hash (the key is shown once)."""
    key = generate_api_key()
    _show(principal, key, hash_api_key(key), fmt)


@auth_app.command("hash-key")
def hash_key(
    principal: Annotated[str, typer.Argument(help="The principal the key is for.")],
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Read an API key from standard input and print the metaxy.toml line holding its hash."""
    key = sys.stdin.readline().strip()
    if not key:
        raise typer.BadParameter(
            "no key on standard input (pipe it in: `echo $KEY | metaxy auth hash-key NAME`)"
        )
    _show(principal, None, hash_api_key(key), fmt)


def _show(principal: str, key: str | None, hashed: str, fmt: str) -> None:
    if is_json(fmt):
        emit_json("auth", {"principal": principal, "api_key": key, "api_key_hash": hashed})
        return
    out = console()
    if key is not None:
        out.print(
            f"API key for {principal} (store it now; metaxy keeps only its hash):\n{key}\n", markup=False
        )
    out.print(f"[security.principals.{principal}]\napi_key_hash = {hashed!r}", markup=False)


audit_app = typer.Typer(help="Read and verify the audit log ([security] audit_store).", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    expect_head: Annotated[
        str | None, typer.Option("--expect-head", help="The last hash kept elsewhere (detects a cut tail).")
    ] = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Check every entry's hash and the chain; exit 1 if an entry was edited, deleted or inserted."""
    cli = state(ctx)
    report = admin_audit_log(cli.config, cli.api_key).verify(expect_head=expect_head)
    if is_json(fmt):
        emit_json(
            "audit verify", {"entries": report.entries, "head": report.head, "problems": report.problems}
        )
    else:
        out = console()
        for problem in report.problems:
            out.print(problem, markup=False)
        verdict = "intact" if report.ok else f"BROKEN ({len(report.problems)} problem(s))"
        out.print(f"{report.entries} entries, chain {verdict}; head {report.head}", markup=False)
    if not report.ok:
        raise AuditIntegrityError(
            f"The audit log does not verify: {report.problems[0]}.",
            hint="Compare with a backup of the audit store; the entries after the first problem cannot be trusted.",
        )


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    principal: Annotated[
        str | None, typer.Option("--principal", help="Only this principal's entries.")
    ] = None,
    feature: Annotated[
        str | None, typer.Option("--feature", help="Only entries naming this feature.")
    ] = None,
    denied: Annotated[bool, typer.Option("--denied", help="Only denied operations.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="The newest N entries.")] = 50,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """The newest audit entries, oldest first."""
    cli = state(ctx)
    entries = admin_audit_log(cli.config, cli.api_key).entries()
    if principal is not None:
        entries = entries.filter(pl.col("principal") == principal)
    if feature is not None:
        entries = entries.filter(pl.col("feature").str.split(",").list.contains(feature))
    if denied:
        entries = entries.filter(~pl.col("allowed"))
    entries = entries.tail(limit)
    if is_json(fmt):
        rows = entries.drop("prev_hash").with_columns(pl.col("at").dt.to_string("%Y-%m-%dT%H:%M:%S%.6f%z"))
        emit_json("audit list", {"entries": rows.to_dicts()})
        return
    table = Table("seq", "at", "principal", "operation", "feature", "rows", "outcome")
    for row in entries.iter_rows(named=True):
        table.add_row(
            str(row["seq"]),
            row["at"].isoformat(timespec="seconds"),
            row["principal"],
            row["operation"],
            row["feature"] or "",
            "" if row["rows"] is None else str(row["rows"]),
            "allowed" if row["allowed"] else "DENIED",
        )
    console().print(table)
