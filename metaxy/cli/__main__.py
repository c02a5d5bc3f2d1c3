"""``python -m metaxy.cli``."""

from metaxy.cli import main

raise SystemExit(main())
