"""metaxy.config (filled in by its own issue)."""
