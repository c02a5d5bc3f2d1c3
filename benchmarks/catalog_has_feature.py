"""Placeholder: filled in below (has_feature through a catalog vs a store probe)."""
