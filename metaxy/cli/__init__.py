"""metaxy.cli (filled in by its own issue)."""
