"""metaxy.catalog (filled in by its own issue)."""
