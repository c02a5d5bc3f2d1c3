"""The ``metaxy`` command line: parse, call the library, render with rich. Nothing imports this package.

Exit codes: 0 success; 1 a user error (bad config, unknown feature, ...) or a failed check
(``status --assert-in-sync``); 2 a usage error (unknown command or option) or a store that does not
exist at its configured location; 3 an unexpected error.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer
from typer.exceptions import Abort, Exit, TyperException

import metaxy.cli.maintenance  # noqa: F401  (registers migrate-schema, metadata prune)
from metaxy.cli import (  # noqa: F401  (registers the commands)
    failures,
    features,
    security,
    serve,
    snapshots,
    sql,
    store_commands,
)
from metaxy.cli._app import app
from metaxy.cli._argv import reorder_global_options
from metaxy.cli._legacy import check_legacy_names
from metaxy.cli.output import print_error
from metaxy.exceptions import CatalogNotFoundError, LegacyAPIError, MetaxyError, StoreNotFoundError
from metaxy.models.graph import FeatureGraph

EXIT_OK, EXIT_USER_ERROR, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

__all__ = ["EXIT_INTERNAL", "EXIT_OK", "EXIT_USAGE", "EXIT_USER_ERROR", "app", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    command = typer.main.get_command(app)
    args = reorder_global_options(sys.argv[1:] if argv is None else argv, command)
    debug = "--debug" in args
    try:
        check_legacy_names(args)
    except LegacyAPIError as exc:
        print_error(exc, debug=debug)
        return EXIT_USAGE
    try:
        with FeatureGraph().use():  # the project's features load into a graph of their own
            result = command.main(args, prog_name="metaxy", standalone_mode=False)
    except Exit as exc:
        return int(exc.exit_code)
    except TyperException as exc:  # click's usage errors, vendored by typer
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            sys.stderr.write(f"Error: {exc.format_message()}\n")
        return EXIT_USAGE
    except (Abort, KeyboardInterrupt):
        sys.stderr.write("Aborted.\n")
        return EXIT_USER_ERROR
    except (
        StoreNotFoundError,
        CatalogNotFoundError,
    ) as exc:  # most often a wrong working directory or path: like a usage error
        print_error(exc, debug=debug)
        return EXIT_USAGE
    except MetaxyError as exc:
        print_error(exc, debug=debug)
        return EXIT_USER_ERROR
    except Exception as exc:
        print_error(exc, debug=debug)
        return EXIT_INTERNAL
    return result if isinstance(result, int) else EXIT_OK
