"""Stores that wrap another store: caching, metrics, logging."""
