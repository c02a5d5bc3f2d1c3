"""metaxy.testing (filled in by its own issue)."""
