"""A small video pipeline used by the CLI tests."""
