"""The typer application, its global options, and the helpers commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import metaxy
from metaxy.cli.context import CliContext
from metaxy.cli.output import OutputFormat
from metaxy.models.graph import FeatureGraph

app = typer.Typer(
    name="metaxy",
    help="Feature-metadata versioning: inspect features, check what must be recomputed, manage stores.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
metadata_app = typer.Typer(help="Delete or copy stored metadata.", no_args_is_help=True)
app.add_typer(metadata_app, name="metadata")

FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Output format.", case_sensitive=False)
]


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"metaxy {metaxy.__version__}")
        raise typer.Exit()


@app.callback()
def global_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", help="Config file (default: nearest metaxy.toml).")
    ] = None,
    store: Annotated[str | None, typer.Option("--store", help="Store name (default: the config's).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", envvar="METAXY_API_KEY", help="API key, when metaxy.toml has [security]."),
    ] = None,
    fmt: Annotated[
        OutputFormat | None,
        typer.Option("--format", "-f", help="Output format of the command.", case_sensitive=False),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", callback=_print_version, is_eager=True),
    ] = False,
) -> None:
    """Options every command understands, before or after the command name."""
    ctx.obj = CliContext(
        config_path=config, store_name=store, debug=debug, graph=FeatureGraph.get_active(), api_key=api_key
    )


def state(ctx: typer.Context) -> CliContext:
    """The :class:`CliContext` built by the global options."""
    obj = ctx.find_root().obj
    assert isinstance(obj, CliContext)
    return obj


def is_json(fmt: str) -> bool:
    """Whether ``--format json`` was asked for (typer already checked the choice)."""
    return str(fmt) == OutputFormat.JSON
